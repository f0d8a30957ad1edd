package testsupport

import (
	"context"
	"testing"

	"cardline/internal/mailpit"
)

// Mailpit starts a Mailpit of its own for this test (about 0.2 s), stopped by t.Cleanup. extra
// flags go to mailpit as they are. The binary comes from `make tools` (tools/bin/mailpit) or PATH.
func Mailpit(t testing.TB, extra ...string) *mailpit.Server {
	t.Helper()
	bin, err := mailpit.Find()
	if err != nil {
		Missing(t, "%v", err)
	}
	s, err := mailpit.Start(context.Background(), mailpit.Options{Bin: bin, Args: extra})
	if err != nil {
		t.Fatalf("start mailpit: %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}
