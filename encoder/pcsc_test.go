package encoder_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"cardline/encoder"
	"cardline/internal/testsupport"
)

// One private pcscd for the binary: libpcsclite reads PCSCLITE_CSOCK_NAME once per process.
var pcscd *testsupport.PCSCD

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" { // a child process that starts its own virtual station
		os.Exit(m.Run())
	}
	pcscd = testsupport.StartPCSCD()
	code := m.Run()
	pcscd.Stop()
	os.Exit(code)
}

func record(cardNumber string) encoder.Record {
	return encoder.Record{
		GivenName:  "Jūratė Małgorzata",
		FamilyName: "Žemaitytė-Świątkowska",
		BirthDate:  time.Date(1985, 2, 28, 0, 0, 0, 0, time.UTC),
		Gender:     "F",
		OrgNumber:  "923609016",
		OrgName:    "Renhold og Rør Østlandet AS",
		CardNumber: cardNumber,
		Expiry:     time.Date(2028, 11, 23, 0, 0, 0, 0, time.UTC),
		CardType:   "cleaning",
	}
}

// rig is one vpcd slot with a station on it. Every test uses slot 0 of the shared pcscd, so
// tests of this binary run one after the other (no t.Parallel).
type rig struct {
	d      *encoder.PCSCD
	slot   *encoder.VirtualReader
	st     *encoder.Station
	keys   encoder.Keys
	cancel context.CancelFunc
	ctx    context.Context
}

func newRig(t *testing.T) *rig {
	t.Helper()
	d := pcscd.Need(t)
	keys := encoder.DevKeys()
	st, err := encoder.NewStation(encoder.VirtualReader0, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	r := &rig{d: d, slot: encoder.NewVirtualReader(d.VPCDAddr(0), nil), st: st, keys: keys, ctx: ctx, cancel: cancel}
	t.Cleanup(func() {
		r.slot.Remove()
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = st.WaitForRemoval(wctx)
		wcancel()
		_ = st.Close()
		cancel()
	})
	return r
}

// insert swaps the card in the slot and waits until the reader has seen the old one leave.
func (r *rig) insert(t *testing.T, c *encoder.VirtualCard) *encoder.VirtualCard {
	t.Helper()
	r.slot.Remove()
	if err := r.st.WaitForRemoval(r.ctx); err != nil {
		t.Fatalf("wait for removal: %v", err)
	}
	r.slot.Insert(c)
	return c
}

func (r *rig) blank(t *testing.T, f encoder.Faults) *encoder.VirtualCard {
	return r.insert(t, encoder.NewBlankCard(r.slot.NewUID(), f))
}

func TestEncodeAndReadThroughPCSCD(t *testing.T) {
	r := newRig(t)
	// The station logs what production needs (card, UID, APDUs) and never key material.
	var logs bytes.Buffer
	st, err := encoder.NewStation(encoder.VirtualReader0, r.keys, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r.st = st
	long := strings.Repeat("Ąžuolė-Øyvindsdóttir ", 5)
	for _, rec := range []encoder.Record{record("1000000017"), func() encoder.Record {
		x := record("1000000025")
		x.GivenName, x.FamilyName, x.OrgName = long, long, long+"Ł"
		return x
	}()} {
		card := r.blank(t, encoder.Faults{})
		res, err := r.st.Encode(r.ctx, rec, encoder.EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(res.UID) != string(card.UID()) {
			t.Errorf("UID % X, card has % X", res.UID, card.UID())
		}
		got, err := encoder.ReadCard(r.ctx, encoder.VirtualReader0, r.keys.Verifier())
		if err != nil {
			t.Fatal(err)
		}
		if !got.Record.Verified || got.Record.CardNumber != rec.CardNumber || got.Record.FamilyName != rec.FamilyName || got.Record.OrgName != rec.OrgName {
			t.Errorf("read back %+v", got.Record)
		}
		t.Logf("card %s: %d APDUs to encode and verify, %d to read", rec.CardNumber, res.APDUs, got.APDUs)
	}
	for _, secret := range []string{hex.EncodeToString(r.keys.ReadKey[:]), hex.EncodeToString(r.keys.MasterKey), hex.EncodeToString(r.keys.SigningKey.Seed())} {
		if strings.Contains(strings.ToLower(logs.String()), secret) {
			t.Errorf("key material in the station's log:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "chip encoded") || !strings.Contains(logs.String(), "card=1000000025") {
		t.Errorf("station log lacks the encoded cards:\n%s", logs.String())
	}
	readers, err := encoder.ListReaders(r.ctx)
	if err != nil || len(readers) != 2 || readers[0] != encoder.VirtualReader0 {
		t.Errorf("readers %q %v", readers, err)
	}
}

func TestFailureClassesThroughPCSCD(t *testing.T) {
	r := newRig(t)
	wrong := encoder.Key{0x11, 0x22, 0x33, 0x44, 0x55, 0x66}
	for _, c := range []struct {
		name   string
		faults encoder.Faults
		want   error
	}{
		{"card removed mid-write", encoder.Faults{TearAfterWrites: 12}, encoder.ErrCardRemoved},
		{"unknown transport keys (63 00)", encoder.Faults{TransportKey: &wrong}, encoder.ErrWrongKeys},
		{"write reports success but does not stick", encoder.Faults{LoseWrite: 7}, encoder.ErrWriteNotStuck},
		{"wrong card type (MIFARE Classic 1K)", encoder.Faults{ATR: encoder.ATR1K()}, encoder.ErrWrongCardType},
	} {
		t.Run(c.name, func(t *testing.T) {
			r.blank(t, c.faults)
			_, err := r.st.Encode(r.ctx, record("1000000017"), encoder.EncodeOptions{})
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			t.Logf("%v", err)
		})
	}
}

func TestAlreadyEncodedThroughPCSCD(t *testing.T) {
	r := newRig(t)
	card := r.blank(t, encoder.Faults{})
	if _, err := r.st.Encode(r.ctx, record("1000000017"), encoder.EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	// The same chip comes back (a reject fed again): another card number is refused...
	r.insert(t, card)
	_, err := r.st.Encode(r.ctx, record("1000000025"), encoder.EncodeOptions{})
	var ae *encoder.AlreadyEncodedError
	if !errors.As(err, &ae) || ae.CardNumber != "1000000017" {
		t.Fatalf("got %v, want already encoded with 1000000017", err)
	}
	// ...unless the operator marked it as a reject being re-used.
	res, err := r.st.Encode(r.ctx, record("1000000025"), encoder.EncodeOptions{ReuseReject: true})
	if err != nil || !res.Reused {
		t.Fatalf("re-use: %+v %v", res, err)
	}
	got, err := encoder.ReadCard(r.ctx, encoder.VirtualReader0, r.keys.Verifier())
	if err != nil || got.Record.CardNumber != "1000000025" {
		t.Fatalf("after re-use: %v %v", got.Record.CardNumber, err)
	}
}

func TestReaderGone(t *testing.T) {
	r := newRig(t)
	st, err := encoder.NewStation("Virtual PCD 00 07", r.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Encode(r.ctx, record("1000000017"), encoder.EncodeOptions{}); !errors.Is(err, encoder.ErrReaderGone) {
		t.Fatalf("unknown reader: got %v", err)
	}
}

// TestPCSCDRestarted kills the daemon mid-production and starts it again: the station fails fast
// with ErrServiceGone (no hang), then works on the same card once pcscd is back.
func TestPCSCDRestarted(t *testing.T) {
	r := newRig(t)
	r.blank(t, encoder.Faults{})
	if _, err := r.st.Encode(r.ctx, record("1000000017"), encoder.EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	r.d.Kill()
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	if _, err := r.st.Encode(ctx, record("1000000017"), encoder.EncodeOptions{}); !errors.Is(err, encoder.ErrServiceGone) {
		t.Fatalf("with pcscd dead: got %v, want ErrServiceGone", err)
	}
	if _, err := encoder.ListReaders(ctx); !errors.Is(err, encoder.ErrServiceGone) {
		t.Fatalf("list readers with pcscd dead: %v", err)
	}
	if err := r.d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := r.st.Encode(ctx, record("1000000017"), encoder.EncodeOptions{})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if string(res.UID) != string(r.slot.Card().UID()) {
		t.Errorf("after restart: UID % X", res.UID)
	}
	// A station blocked waiting for a card is woken by the daemon's death, not left hanging.
	r.slot.Remove()
	if err := r.st.WaitForRemoval(ctx); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { _, err := r.st.WaitForCard(ctx); waitErr <- err }()
	time.Sleep(200 * time.Millisecond)
	r.d.Kill()
	select {
	case err := <-waitErr:
		if !errors.Is(err, encoder.ErrServiceGone) {
			t.Errorf("waiting station after pcscd died: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting station hangs after pcscd died")
	}
	if err := r.d.Start(ctx); err != nil { // the other tests share this daemon
		t.Fatal(err)
	}
}

// TestPCSCDSupervised: a supervised daemon that dies comes back by itself, and a station works on
// the card at its reader again without anyone starting pcscd.
func TestPCSCDSupervised(t *testing.T) {
	r := newRig(t)
	r.blank(t, encoder.Faults{})
	sctx, stop := context.WithCancel(r.ctx)
	supervised := make(chan struct{})
	go func() { r.d.Supervise(sctx); close(supervised) }()
	defer func() { stop(); <-supervised }()
	r.d.Kill()
	ctx, cancel := context.WithTimeout(r.ctx, 15*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		var res encoder.EncodeResult
		if res, err = r.st.Encode(ctx, record("1000000017"), encoder.EncodeOptions{}); err == nil {
			if string(res.UID) != string(r.slot.Card().UID()) {
				t.Errorf("after the restart: UID % X", res.UID)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("pcscd did not come back under supervision: last error %v", err)
}

// Stop ends a daemon's supervision: the supervisor returns and starts nothing again.
func TestPCSCDStopEndsSupervision(t *testing.T) {
	testsupport.Need(t, "pcscd", "/usr/sbin")
	ctx := context.Background()
	d, err := encoder.StartPCSCD(ctx, t.TempDir(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	supervised := make(chan struct{})
	go func() { d.Supervise(ctx); close(supervised) }()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-supervised:
	case <-time.After(5 * time.Second):
		t.Fatal("the supervisor still runs after Stop")
	}
	if c, err := net.DialTimeout("tcp", d.VPCDAddr(0), 200*time.Millisecond); err == nil {
		c.Close()
		t.Error("a daemon listens again after Stop")
	}
}

// BenchmarkEncodeThroughPCSCD is the wall time of one card through pcscd + vpcd: connect, encode,
// full read-back and signature check. Card changes (up to 0.4 s of pcscd polling each) are not
// timed. Run with -benchtime=20x: each iteration waits for a card change.
func BenchmarkEncodeThroughPCSCD(b *testing.B) {
	d := pcscd.Need(b)
	keys := encoder.DevKeys()
	st, err := encoder.NewStation(encoder.VirtualReader0, keys, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	slot := encoder.NewVirtualReader(d.VPCDAddr(0), nil)
	defer slot.Remove()
	ctx := context.Background()
	apdus := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		slot.Remove()
		if err := st.WaitForRemoval(ctx); err != nil {
			b.Fatal(err)
		}
		slot.InsertBlank(encoder.Faults{})
		if _, err := st.WaitForCard(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := st.Encode(ctx, record("1000000017"), encoder.EncodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		apdus = res.APDUs
	}
	b.ReportMetric(float64(apdus), "APDUs/card")
}

// TestVirtualTransport runs the station's loop as issue 7 will: feed, encode, eject to output or
// to the reject tray, and re-use a reject.
func TestVirtualTransport(t *testing.T) {
	r := newRig(t)
	tr := encoder.NewVirtualTransport(r.slot, r.st)
	tr.QueueFaults(encoder.Faults{}, encoder.Faults{LoseWrite: 30})
	uids := map[string]bool{}
	for i, num := range []string{"1000000017", "1000000025"} {
		if err := tr.FeedBlank(r.ctx); err != nil {
			t.Fatal(err)
		}
		res, err := r.st.Encode(r.ctx, record(num), encoder.EncodeOptions{})
		uids[string(res.UID)] = true
		switch {
		case i == 0 && err == nil:
			err = tr.EjectOutput(r.ctx)
		case i == 1 && errors.Is(err, encoder.ErrWriteNotStuck):
			err = tr.EjectReject(r.ctx)
		default:
			t.Fatalf("card %d: %v", i, err)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(uids) != 2 || len(tr.Output()) != 1 || len(tr.Rejects()) != 1 {
		t.Fatalf("uids %d, output %d, rejects %d", len(uids), len(tr.Output()), len(tr.Rejects()))
	}
	// The operator puts the reject back to be re-used: it carries no valid record, so it encodes
	// (its earlier sectors are opened with its key B and wiped).
	c, err := tr.ReinsertReject(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.st.Encode(r.ctx, record("1000000033"), encoder.EncodeOptions{ReuseReject: true})
	if err != nil || string(res.UID) != string(c.UID()) {
		t.Fatalf("re-used reject: %v", err)
	}
	if err := tr.EjectOutput(r.ctx); err != nil {
		t.Fatal(err)
	}
}

const childEnv = "CARDLINE_ENCODER_TEST_CHILD"

// TestVirtualStationInFreshProcess runs the demo's path in a process of its own (the PC/SC socket
// is chosen once per process): StartVirtualStation, a station and its virtual transport.
func TestVirtualStationInFreshProcess(t *testing.T) {
	pcscd.Need(t) // the same programs are needed
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestVirtualStationChild$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestVirtualStationChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestVirtualStationChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("runs only as the child of TestVirtualStationInFreshProcess")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vs, err := encoder.StartVirtualStation(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer vs.Close()
	keys := encoder.DevKeys()
	st, err := encoder.NewStation(vs.ReaderNames()[1], keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tr := encoder.NewVirtualTransport(vs.Slots[1], st)
	if err := tr.FeedBlank(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := st.Encode(ctx, record("1000000017"), encoder.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := encoder.ReadCard(ctx, vs.ReaderNames()[1], keys.Verifier())
	if err != nil || got.Record.CardNumber != "1000000017" || string(got.UID) != string(res.UID) {
		t.Fatalf("read back: %+v %v", got, err)
	}
	if err := tr.EjectOutput(ctx); err != nil {
		t.Fatal(err)
	}
	if out := tr.Output(); len(out) != 1 || string(out[0].UID()) != string(res.UID) {
		t.Fatalf("output hopper: %v", out)
	}
}

// Two stations wait on their readers and encode at the same time in one process, as a service
// with several stations does: each gets its own card, and (under -race) the PC/SC binding's
// shared state is not written by both at once.
func TestStationsWaitAtOnce(t *testing.T) {
	d := pcscd.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	readers := []string{encoder.VirtualReader0, encoder.VirtualReader1}
	numbers := []string{"1000000017", "1000000025"}
	errs := make(chan error, len(readers))
	var uids [2][]byte
	for i, reader := range readers {
		slot := encoder.NewVirtualReader(d.VPCDAddr(i), nil)
		defer slot.Remove()
		st, err := encoder.NewStation(reader, encoder.DevKeys(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		go func() {
			if err := st.WaitForRemoval(ctx); err != nil { // the slot starts empty
				errs <- err
				return
			}
			card := encoder.NewBlankCard(slot.NewUID(), encoder.Faults{})
			uids[i] = card.UID()
			time.AfterFunc(100*time.Millisecond, func() { slot.Insert(card) })
			res, err := st.Encode(ctx, record(numbers[i]), encoder.EncodeOptions{})
			if err == nil && !bytes.Equal(res.UID, uids[i]) {
				err = errors.New("encoded another card than the one in its reader")
			}
			errs <- err
		}()
	}
	for range readers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, reader := range readers {
		got, err := encoder.ReadCard(ctx, reader, encoder.DevKeys().Verifier())
		if err != nil || got.Record.CardNumber != numbers[i] || !got.Record.Verified {
			t.Errorf("%s reads %+v, %v; want card %s", reader, got.Record, err, numbers[i])
		}
	}
}
