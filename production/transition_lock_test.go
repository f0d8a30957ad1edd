package production

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestTransitionsOfSiblingCardsDoNotDeadlock: two stations claiming two cards of one order at once
// (seen in the fault run) each update their card twice, which makes Postgres check the card's order
// key and hold a KEY SHARE lock on the order; the order's transition must not then need a lock that
// KEY SHARE blocks, or the two claims deadlock.
func TestTransitionsOfSiblingCardsDoNotDeadlock(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	cards := seedOrder(t, s, "A-2026-0000901", Construction, time.Now().AddDate(0, 0, 10), 2)
	var held sync.WaitGroup
	held.Add(len(cards))
	errs := make(chan error, len(cards))
	for _, n := range cards {
		go func() {
			errs <- pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				if _, err := TransitionCard(ctx, tx, n, CardInProduction, "test", ""); err != nil {
					return err
				}
				// The second update of a row this transaction wrote checks the foreign key to orders.
				if _, err := tx.Exec(ctx, "UPDATE cards SET expiry = coalesce(expiry, current_date) WHERE card_number = $1", string(n)); err != nil {
					return err
				}
				held.Done()
				held.Wait()
				err := TransitionOrder(ctx, tx, "A-2026-0000901", OrderInProduction, "test", "")
				var te *TransitionError
				if errors.As(err, &te) {
					return nil // the other claim moved it first
				}
				return err
			})
		}()
	}
	for range cards {
		if err := <-errs; err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "40P01" {
				t.Fatalf("sibling claims deadlocked: %v", err)
			}
			t.Fatal(err)
		}
	}
}
