package testsupport

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"cardline/internal/pgcluster"
)

// shared holds the parts started once per test binary and stopped by Main. It is the one piece
// of package state here: a test binary is one process, and starting a cluster per test would
// cost seconds each.
var shared struct {
	mu      sync.Mutex
	cluster *pgcluster.Cluster
	err     error
	dbs     atomic.Int64
}

// Main runs the tests of a package and stops the parts they started. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster != nil {
		if err := shared.cluster.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testsupport: stop postgres: %v\n", err)
		}
		shared.cluster = nil
	}
	return code
}

// Postgres returns the URL of a new, empty database of its own for this test, in a throwaway
// cluster shared by the test binary (started on first use, fsync off).
func Postgres(t testing.TB) string {
	t.Helper()
	c := cluster(t)
	name := fmt.Sprintf("t%d_%s", shared.dbs.Add(1), pgcluster.Name(t.Name()))
	if err := c.CreateDatabase(context.Background(), name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	return c.URL(name)
}

func cluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster == nil && shared.err == nil {
		if _, err := pgcluster.BinDir(); err != nil {
			Missing(t, "PostgreSQL server: %v", err)
		}
		shared.cluster, shared.err = pgcluster.Start(context.Background(), pgcluster.Options{Fast: true})
	}
	if shared.err != nil {
		t.Fatalf("start throwaway postgres: %v", shared.err)
	}
	return shared.cluster
}
