package production

import (
	"context"
	"errors"
	"testing"
	"time"

	"cardline/internal/testsupport"
)

func TestCardStateMachine(t *testing.T) {
	good := []CardState{CardQueued, CardInProduction, CardEncoded, CardPrinted, CardProduced, CardDispatched, CardBlocked}
	for i := 0; i+1 < len(good); i++ {
		if err := good[i].To(good[i+1]); err != nil {
			t.Errorf("good path: %v", err)
		}
	}
	for _, bad := range [][2]CardState{
		{CardQueued, CardPrinted},       // printing needs an encoded chip first
		{CardInProduction, CardPrinted}, // ditto
		{CardSpoiled, CardProduced},     // a spoiled card is remade, never un-spoiled
		{CardBlocked, CardQueued},       // blocked is final
		{CardDispatched, CardQueued},
		{CardQueued, CardDispatched},
	} {
		var te *TransitionError
		if err := bad[0].To(bad[1]); !errors.As(err, &te) {
			t.Errorf("%s → %s allowed", bad[0], bad[1])
		}
	}
	if err := CardSpoiled.To(CardQueued); err != nil {
		t.Errorf("remake not allowed: %v", err)
	}
}

// Transitions through the store are checked, audited, and the audit log cannot be rewritten.
func TestTransitionsAreAudited(t *testing.T) {
	l := openLine(t, testsupport.Postgres(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := l.runIntake(ctx, t, nil)
	m := NewSamples(3).Order(1, time.Now().Add(-time.Hour))
	l.submit(t, marshal(t, m))
	l.waitDrained(t)
	cancel()
	<-done

	var n CardNumber
	if err := l.pool.QueryRow(context.Background(), `SELECT card_number FROM cards WHERE order_id = $1`, m.OrderID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	tx, err := l.pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg)
	if _, err := TransitionCard(bg, tx, n, CardPrinted, "station-1", "skipping the chip"); err == nil {
		t.Fatal("queued → printed allowed by the store")
	}
	for _, to := range []CardState{CardInProduction, CardEncoded, CardSpoiled, CardQueued} {
		if _, err := TransitionCard(bg, tx, n, to, "station-1", "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := TransitionOrder(bg, tx, m.OrderID, OrderDispatched, "logistics", ""); err == nil {
		t.Error("accepted → dispatched allowed")
	}
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}
	rows, err := l.pool.Query(bg, `SELECT coalesce(from_state, ''), to_state, actor FROM audit_log WHERE entity = 'card' AND entity_id = $1 ORDER BY id`, string(n))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var from, to, actor string
		rows.Scan(&from, &to, &actor)
		got = append(got, from+"→"+to+"@"+actor)
	}
	want := []string{"→queued@intake", "queued→in_production@station-1", "in_production→encoded@station-1", "encoded→spoiled@station-1", "spoiled→queued@station-1"}
	if len(got) != len(want) {
		t.Fatalf("audit %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("audit[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := l.pool.Exec(bg, `UPDATE audit_log SET actor = 'someone else'`); err == nil {
		t.Error("audit log was rewritten")
	}
	if _, err := l.pool.Exec(bg, `DELETE FROM audit_log`); err == nil {
		t.Error("audit log was deleted")
	}
}
