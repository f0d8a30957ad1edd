package testsupport

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"cardline/encoder"
)

// PCSCD is a private pcscd with the vpcd virtual reader, shared by one test binary. PC/SC clients
// find it through PCSCLITE_CSOCK_NAME, which libpcsclite reads once per process: so start it in
// TestMain, before any PC/SC call, and share it between the binary's tests.
type PCSCD struct {
	*encoder.PCSCD
	err error
}

// StartPCSCD starts the daemon in a temporary directory and points this process's PC/SC clients
// at it. It never fails: a missing pcscd or vpcd driver is remembered and reported by Need, so
// that the tests that need it skip (or fail in CI) while the others run. Call Stop when m.Run ends.
func StartPCSCD() *PCSCD {
	if _, err := encoder.PCSCDPath(); err != nil {
		return &PCSCD{err: err}
	}
	if _, err := os.Stat("/usr/lib/pcsc/drivers/serial/libifdvpcd.so"); err != nil {
		return &PCSCD{err: fmt.Errorf("vpcd driver missing (Debian package vsmartcard-vpcd): %w", err)}
	}
	dir, err := os.MkdirTemp("", "cardline-pcscd-")
	if err != nil {
		return &PCSCD{err: err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := encoder.StartPCSCD(ctx, dir, 0, nil)
	if err != nil {
		return &PCSCD{err: err}
	}
	if err := os.Setenv("PCSCLITE_CSOCK_NAME", d.Socket); err != nil {
		_ = d.Stop()
		return &PCSCD{err: err}
	}
	return &PCSCD{PCSCD: d}
}

// Need ends the test through Missing if the daemon did not start.
func (p *PCSCD) Need(t testing.TB) *encoder.PCSCD {
	t.Helper()
	if p.err != nil {
		Missing(t, "private pcscd with vpcd: %v", p.err)
	}
	return p.PCSCD
}

// Stop ends the daemon and removes its directory.
func (p *PCSCD) Stop() {
	if p.PCSCD == nil {
		return
	}
	_ = p.PCSCD.Stop()
	_ = os.RemoveAll(p.Dir)
}

// sharedPCSCD is started at most once per test binary by SharedPCSCD.
var sharedPCSCD struct {
	once sync.Once
	d    *PCSCD
}

// SharedPCSCD starts (once per test binary, on first use) the private pcscd and returns it, for
// binaries whose TestMain does not start one. It must come before the binary's first PC/SC call;
// the daemon lives until the process ends (pcscd also gets SIGTERM when its parent dies).
func SharedPCSCD(t testing.TB) *encoder.PCSCD {
	t.Helper()
	sharedPCSCD.once.Do(func() { sharedPCSCD.d = StartPCSCD() })
	return sharedPCSCD.d.Need(t)
}
