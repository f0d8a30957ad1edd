package production

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/bus"
)

// Validation is pure and costly (the photo is decoded and re-encoded), while the handler that
// stores orders must run one message at a time, in order, inside the subscriber's transaction.
// The Prevalidator takes the pure part off that serial path: it reads the head of the input topic
// and validates the waiting messages on every core, so that by the time the handler reaches a
// message its result is usually waiting. The handler still does every check that needs the store,
// and validates inline whatever the Prevalidator has not (or whose result is stale).
type Prevalidator struct {
	Log *slog.Logger // optional: where a failing read of the topic is reported

	pool      *pgxpool.Pool
	validator *Validator
	workers   int
	lookahead int
	maxAge    time.Duration

	mu       sync.Mutex
	results  map[string]*prevalidated // by message uuid
	inFlight map[string]chan struct{} // closed when the message's validation ends
}

type prevalidated struct {
	digest   [sha256.Size]byte
	decoded  bool
	order    *Order
	problems Problems
	at       time.Time
}

// NewPrevalidator reads the input topic through pool and validates with v on every core.
func NewPrevalidator(pool *pgxpool.Pool, v *Validator) *Prevalidator {
	return &Prevalidator{
		pool:      pool,
		validator: v,
		workers:   runtime.GOMAXPROCS(0),
		lookahead: 64,
		maxAge:    30 * time.Second,
		results:   map[string]*prevalidated{},
		inFlight:  map[string]chan struct{}{},
	}
}

// Run validates ahead until ctx ends; it outlives a failing database, retrying every second.
func (p *Prevalidator) Run(ctx context.Context) error {
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for uuid := range jobs {
				p.validate(ctx, uuid)
			}
		}()
	}
	defer wg.Wait()
	defer close(jobs)
	failing := false
	for {
		uuids, err := p.waiting(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The topic's table may not exist yet (a fresh database, before the subscriber's
			// first run), or the database may be restarting: try again, never give up for good.
			if !failing && p.Log != nil {
				p.Log.Warn("validation ahead: cannot read the input topic; the handler validates inline meanwhile", "err", err)
			}
			failing = true
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		failing = false
		for _, u := range uuids {
			select {
			case jobs <- u:
			case <-ctx.Done():
				return nil
			}
		}
		if len(uuids) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// waiting lists messages at the head of the topic with no result yet, marking them in flight.
func (p *Prevalidator) waiting(ctx context.Context) ([]string, error) {
	p.mu.Lock()
	full := len(p.results)+len(p.inFlight) >= 2*p.lookahead
	p.purgeLocked()
	p.mu.Unlock()
	if full {
		return nil, nil
	}
	// The head of what intake has not yet acknowledged: a message kept after its handling (one
	// that went to the poison topic stays until retention) is not waiting.
	rows, err := p.pool.Query(ctx, `SELECT m.uuid FROM `+bus.Table(TopicOrdersApproved)+` m
		WHERE NOT EXISTS (SELECT 1 FROM `+bus.OffsetsTable(TopicOrdersApproved)+` o WHERE o.consumer_group = $2
			AND (m.transaction_id, m."offset") <= (o.last_processed_transaction_id, coalesce(o.offset_acked, 0)))
		ORDER BY m.transaction_id, m."offset" LIMIT $1`, p.lookahead, IntakeConsumerGroup)
	if err != nil {
		return nil, err
	}
	uuids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	// Marked in flight only once the whole list is read: a read that fails half way marks none.
	var out []string
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range uuids {
		if p.results[u] == nil && p.inFlight[u] == nil {
			p.inFlight[u] = make(chan struct{})
			out = append(out, u)
		}
	}
	// In topic order, as the handler goes: it waits for a message being validated (take) and
	// validates inline only one that no worker has started.
	return out, nil
}

func (p *Prevalidator) validate(ctx context.Context, uuid string) {
	var payload []byte
	err := p.pool.QueryRow(ctx, `SELECT payload FROM `+bus.Table(TopicOrdersApproved)+` WHERE uuid = $1`, uuid).Scan(&payload)
	r := &prevalidated{at: time.Now()}
	if err == nil {
		r.digest = sha256.Sum256(payload)
		m, ps := DecodeOrderApproved(payload)
		if m != nil {
			r.decoded = true
			r.order, r.problems = p.validator.Validate(m)
		}
		_ = ps // decode problems are cheap: the handler finds them again
	}
	p.mu.Lock()
	close(p.inFlight[uuid])
	delete(p.inFlight, uuid)
	if err == nil && r.decoded {
		p.results[uuid] = r
	}
	p.mu.Unlock()
}

// take returns and forgets the result for a message, if there is a fresh one for these bytes.
func (p *Prevalidator) take(uuid string, digest [sha256.Size]byte) (*Order, Problems, bool) {
	if p == nil {
		return nil, nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if done := p.inFlight[uuid]; done != nil {
		// Being validated right now: waiting costs less than validating it a second time.
		p.mu.Unlock()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		p.mu.Lock()
	}
	r := p.results[uuid]
	delete(p.results, uuid)
	if r == nil || r.digest != digest || time.Since(r.at) > p.maxAge {
		return nil, nil, false
	}
	return r.order, r.problems, true
}

func (p *Prevalidator) purgeLocked() {
	for u, r := range p.results {
		if time.Since(r.at) > p.maxAge {
			delete(p.results, u)
		}
	}
}
