package testsupport

import (
	"context"
	"os"
	"testing"
	"time"

	"cardline/printer"
)

// VirtualPrinter starts an ippeveprinter (cups-ipp-utils) with a private D-Bus on a free loopback
// port for this test, with the media and faults of printer.StartVirtualPrinter, and stops it when
// the test ends. Its directory is kept short (the D-Bus socket path must fit in 108 bytes) and is
// removed afterwards.
func VirtualPrinter(t testing.TB, opts printer.VirtualPrinterOptions) *printer.VirtualPrinter {
	t.Helper()
	Need(t, "ippeveprinter", "/usr/sbin")
	Need(t, "dbus-daemon", "/usr/bin")
	dir, err := os.MkdirTemp("", "vprn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := printer.StartVirtualPrinter(ctx, dir, opts)
	if err != nil {
		t.Fatalf("start virtual printer: %v", err)
	}
	t.Cleanup(v.Stop)
	return v
}
