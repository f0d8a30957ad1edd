package production

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClockLock is the advisory lock key whose holder is the leader that runs the clock's jobs.
const ClockLock = 0x636c6f636b6c6472 // "clockldr"

// ErrNotLeader is what Elector.IsLeader says on an instance that does not hold the lock.
var ErrNotLeader = errors.New("not the clock's leader: another instance holds the lock")

// An Elector makes one instance of the line the leader that runs the clock's jobs (gocron's
// WithDistributedElector). The leader is the holder of a Postgres session advisory lock, taken on a
// connection of its own outside the pool: while that connection lives, no other instance can take
// the lock; when it dies (the instance crashes, the network or the server drops it), Postgres
// releases the lock and the next instance that asks becomes leader. An instance finds out that it
// lost its connection when it next asks (a ping before every job), so for a moment after a silent
// network split two instances may both run a job: every job is safe to run twice at once (planning
// and retention take their own locks, the SLA sweep only raises flags).
type Elector struct {
	cfg *pgx.ConnConfig
	key int64
	log *slog.Logger

	mu     sync.Mutex
	conn   *pgx.Conn // non-nil while this instance holds the lock
	leader bool
}

// NewElector elects over the database that cfg connects to (a copy is kept).
func NewElector(cfg *pgx.ConnConfig, key int64, log *slog.Logger) *Elector {
	return &Elector{cfg: cfg.Copy(), key: key, log: log}
}

// IsLeader returns nil if this instance holds the lock, taking it if it is free, and ErrNotLeader
// (or the error that kept it from asking) otherwise.
func (e *Elector) IsLeader(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := e.conn.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		e.drop("lost the clock's leadership: its connection failed", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, e.cfg)
	if err != nil {
		return fmt.Errorf("clock election: connect: %w", err)
	}
	var got bool
	if err := conn.QueryRow(cctx, "SELECT pg_try_advisory_lock($1)", e.key).Scan(&got); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("clock election: try lock: %w", err)
	}
	if !got {
		conn.Close(context.WithoutCancel(ctx))
		return ErrNotLeader
	}
	e.conn = conn
	if !e.leader {
		e.log.Info("this instance now runs the clock's jobs", "pid", conn.PgConn().PID())
	}
	e.leader = true
	return nil
}

// Leading reports whether this instance held the lock when it last asked.
func (e *Elector) Leading() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leader
}

// drop forgets a dead connection; its lock went with it.
func (e *Elector) drop(msg string, err error) {
	e.log.Warn(msg, "err", err)
	e.conn.Close(context.Background())
	e.conn = nil
	e.leader = false
}

// Close gives up leadership: the lock is released with the connection.
func (e *Elector) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return nil
	}
	err := e.conn.Close(ctx)
	e.conn = nil
	e.leader = false
	return err
}
