package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"cardline/internal/testsupport"
)

// envFaultRunChild carries the command line when this test binary is re-run as `cardline`.
const envFaultRunChild = "CARDLINE_FAULTRUN_CHILD_ARGS"

// TestFaultRunChild is `cardline` when the fault run test starts this binary as its service; it
// skips otherwise.
func TestFaultRunChild(t *testing.T) {
	raw := os.Getenv(envFaultRunChild)
	if raw == "" {
		t.Skip("only as the fault run's child process")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdout: os.Stdout, stderr: os.Stderr, log: newLogger(os.Stderr, "json")}
	if err := dispatch(ctx, a, "cardline", commands(), args); err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
}

// TestFaultRun is the short fault run: a few cards, one SIGKILL of the service, a printer jam and a
// lost chip write; every check must pass. The long run is `cardline faultrun`.
func TestFaultRun(t *testing.T) {
	testsupport.Need(t, "ippeveprinter", "/usr/sbin")
	testsupport.Need(t, "pcscd", "/usr/sbin")
	db := testsupport.Postgres(t)
	mp := testsupport.Mailpit(t)
	o := faultOptions{orders: 4, kills: 1, seed: 3, duration: 40 * time.Second, out: t.TempDir(), databaseURL: db, mail: mp}
	// The child is this test binary running TestFaultRunChild; the arguments follow by environment.
	o.child = []string{os.Args[0], "-test.run=^TestFaultRunChild$", "--"}
	o.childArgsEnv = envFaultRunChild
	var out bytes.Buffer
	r, err := runFaultRun(context.Background(), &out, o)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if failed := r.failed(); len(failed) > 0 {
		t.Errorf("checks failed: %s", strings.Join(failed, "; "))
	}
	if r.kills != 1 || r.cards < 6 || len(r.checks) != 5 {
		t.Errorf("%d kills, %d cards, %d checks; want 1, at least 6, 5", r.kills, r.cards, len(r.checks))
	}
}
