// Package bus is the watermill wiring of the line: watermill-sql on the line's own Postgres through
// pgx, so that an event is published in the same transaction as the state change that causes it,
// and a handler's effects commit together with the offset of the message it handled.
//
// Payloads are stored as BYTEA, not JSON: the input topic must carry malformed messages too, so that
// intake can reject them with a reason instead of losing them at the door.
package bus

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PoisonTopic receives messages whose handler kept failing after its retries, with the reason in
// the metadata, so that no message blocks its topic. Operators inspect and replay them.
const PoisonTopic = "cardline.poison.v1"

// Options tune delivery.
type Options struct {
	// PollInterval is how long a subscriber waits when it found nothing (10–50 ms keeps the line
	// lively; every poll is one cheap query).
	PollInterval time.Duration
	// BatchSize is how many messages one subscriber transaction takes. Larger batches amortise the
	// offset update; a crash redelivers at most one batch, which handlers absorb idempotently.
	BatchSize int
	// MaxRetries of a failing handler before its message goes to PoisonTopic.
	MaxRetries int
	// RetryInterval is the first back-off between retries.
	RetryInterval time.Duration
	// AckDeadline is how long one message's handler may take before watermill gives up on it
	// and delivers it again (default 5 min; watermill's own is 30 s). The largest order intake
	// takes, 500 cards with 12-megapixel photos, needs over a minute of decoding on one core: at
	// 30 s it would be given up on and redelivered forever, holding its topic.
	AckDeadline time.Duration
}

func (o Options) withDefaults() Options {
	if o.PollInterval == 0 {
		o.PollInterval = 20 * time.Millisecond
	}
	if o.BatchSize == 0 {
		o.BatchSize = 50
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 5
	}
	if o.RetryInterval == 0 {
		o.RetryInterval = 100 * time.Millisecond
	}
	if o.AckDeadline == 0 {
		o.AckDeadline = 5 * time.Minute
	}
	return o
}

// Bus creates subscribers, publishers and routers on one pool.
type Bus struct {
	pool   *pgxpool.Pool
	opts   Options
	logger watermill.LoggerAdapter
	schema wsql.DefaultPostgreSQLSchema
}

// New wires a bus on pool.
func New(pool *pgxpool.Pool, log *slog.Logger, opts Options) *Bus {
	opts = opts.withDefaults()
	return &Bus{
		pool: pool,
		opts: opts,
		logger: watermill.NewSlogLoggerWithLevelMapping(log.With("part", "watermill"), map[slog.Level]slog.Level{
			slog.LevelInfo: slog.LevelDebug, // watermill's info lines are per-subscription chatter
		}),
		schema: wsql.DefaultPostgreSQLSchema{
			GeneratePayloadType: func(string) string { return "BYTEA" },
			SubscribeBatchSize:  opts.BatchSize,
		},
	}
}

// Logger is the watermill logger adapter of this bus.
func (b *Bus) Logger() watermill.LoggerAdapter { return b.logger }

// Subscriber makes a subscriber for a consumer group: each group sees every message of a topic once.
func (b *Bus) Subscriber(group string) (*wsql.Subscriber, error) {
	s, err := wsql.NewSubscriber(guardedBeginner{wsql.BeginnerFromPgx(b.pool)}, wsql.SubscriberConfig{
		ConsumerGroup:    group,
		AckDeadline:      &b.opts.AckDeadline,
		PollInterval:     b.opts.PollInterval,
		ResendInterval:   b.opts.RetryInterval,
		RetryInterval:    time.Second,
		SchemaAdapter:    b.schema,
		OffsetsAdapter:   wsql.DefaultPostgreSQLOffsetsAdapter{},
		InitializeSchema: true,
	}, b.logger)
	if err != nil {
		return nil, fmt.Errorf("create subscriber %s: %w", group, err)
	}
	return s, nil
}

// InitTopics creates the tables of topics (and the offsets tables of group) so that they can be
// published to inside a transaction, where watermill may not create tables itself.
func (b *Bus) InitTopics(ctx context.Context, group string, topics ...string) error {
	s, err := b.Subscriber(group)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, t := range topics {
		if err := s.SubscribeInitialize(t); err != nil {
			return fmt.Errorf("initialise topic %s: %w", t, err)
		}
	}
	return nil
}

// Publisher publishes each message in the transaction found in the message's context (the one a
// handler runs in, or one set with WithTx), or on its own when there is none.
func (b *Bus) Publisher() message.Publisher { return &publisher{bus: b} }

// PublishTx publishes msgs on topic inside tx: they become visible if and only if tx commits.
func (b *Bus) PublishTx(ctx context.Context, tx pgx.Tx, topic string, msgs ...*message.Message) error {
	p, err := wsql.NewPublisher(wsql.TxFromPgx(tx), wsql.PublisherConfig{SchemaAdapter: b.schema}, b.logger)
	if err != nil {
		return fmt.Errorf("create tx publisher: %w", err)
	}
	for _, m := range msgs {
		m.SetContext(ctx)
	}
	if err := p.Publish(topic, msgs...); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

type publisher struct{ bus *Bus }

func (p *publisher) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		var db wsql.ContextExecutor = wsql.BeginnerFromPgx(p.bus.pool)
		if sp, ok := m.Context().Value(savepointKey{}).(pgx.Tx); ok {
			db = wsql.TxFromPgx(sp) // inside a handler attempt: the guard is held, write in its savepoint
		} else if tx, ok := wsql.TxFromContext(m.Context()); ok {
			db = tx
		}
		pub, err := wsql.NewPublisher(db, wsql.PublisherConfig{SchemaAdapter: p.bus.schema}, p.bus.logger)
		if err != nil {
			return fmt.Errorf("create publisher: %w", err)
		}
		if err := pub.Publish(topic, m); err != nil {
			return fmt.Errorf("publish to %s: %w", topic, err)
		}
	}
	return nil
}

func (p *publisher) Close() error { return nil }

type savepointKey struct{}

// Tx returns the transaction a handler must write in: a savepoint of the subscriber's transaction,
// so its writes commit with the message's offset, and a failed attempt leaves nothing behind.
func Tx(ctx context.Context) (pgx.Tx, error) {
	if sp, ok := ctx.Value(savepointKey{}).(pgx.Tx); ok {
		return sp, nil
	}
	g, err := subscriberTx(ctx)
	if err != nil {
		return nil, err
	}
	return g.tx.Tx, nil
}

func subscriberTx(ctx context.Context) (*guardedTx, error) {
	tx, ok := wsql.TxFromContext(ctx)
	if !ok {
		return nil, errors.New("no subscriber transaction in the message context")
	}
	g, ok := tx.(*guardedTx)
	if !ok {
		return nil, fmt.Errorf("subscriber transaction is %T, not one of this bus", tx)
	}
	return g, nil
}

// guardedBeginner hands the subscriber transactions that a handler attempt can hold. watermill-sql
// stops waiting for a handler when its context ends (shutdown, ack deadline) and then commits or
// rolls back the batch's transaction, while the handler may still be writing in it: a pgx
// connection used from two goroutines, and a half-done handler's writes committed. With the guard,
// the subscriber's commit waits until the attempt has either released its savepoint (all its
// effects) or rolled it back (none).
type guardedBeginner struct{ wsql.Beginner }

func (g guardedBeginner) BeginTx(ctx context.Context, opts *stdsql.TxOptions) (wsql.Tx, error) {
	tx, err := g.Beginner.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	ptx, ok := tx.(*wsql.PgxTx)
	if !ok {
		return nil, fmt.Errorf("subscriber transaction is %T, not pgx", tx)
	}
	return &guardedTx{tx: ptx}, nil
}

type guardedTx struct {
	mu sync.Mutex // held by a handler attempt for its whole length
	tx *wsql.PgxTx
}

func (g *guardedTx) ExecContext(ctx context.Context, q string, args ...any) (wsql.Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tx.ExecContext(ctx, q, args...)
}

func (g *guardedTx) QueryContext(ctx context.Context, q string, args ...any) (wsql.Rows, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tx.QueryContext(ctx, q, args...)
}

func (g *guardedTx) Commit() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tx.Commit()
}

func (g *guardedTx) Rollback() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tx.Rollback()
}

// savepoint runs each handler attempt in a savepoint, holding the transaction's guard: released
// when the handler succeeds, rolled back when it fails or panics, so that retries, the poison
// queue and the subscriber's commit see a clean transaction.
func savepoint(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) (out []*message.Message, err error) {
		ctx := msg.Context()
		g, gerr := subscriberTx(ctx)
		if gerr != nil {
			return h(msg) // not from a SQL subscriber of this bus: nothing to scope
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		// Not the message's context: it ends when watermill gives up on the message, and the
		// savepoint must still be released or rolled back before the guard is let go.
		bg := context.WithoutCancel(ctx)
		sp, err := g.tx.Tx.Begin(bg)
		if err != nil {
			return nil, fmt.Errorf("begin savepoint for message %s: %w", msg.UUID, err)
		}
		done := false
		defer func() {
			if !done { // the handler panicked: undo, let the Recoverer report it
				_ = sp.Rollback(bg)
				// and take the dead savepoint out of the message: the retries, and the poison
				// queue's publish after the last, must write in the subscriber's transaction.
				msg.SetContext(ctx)
			}
		}()
		msg.SetContext(context.WithValue(ctx, savepointKey{}, sp))
		out, err = h(msg)
		msg.SetContext(ctx)
		done = true
		if err != nil {
			if rbErr := sp.Rollback(bg); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("roll back savepoint: %w", rbErr))
			}
			return nil, err
		}
		if err := sp.Commit(bg); err != nil {
			return nil, fmt.Errorf("release savepoint for message %s: %w", msg.UUID, err)
		}
		return out, nil
	}
}

// Router makes a router with the middleware every handler of the line gets: panics become errors,
// every attempt runs in its own savepoint, failures retry with back-off, and a message that still
// fails goes to PoisonTopic (in the same transaction as its offset) instead of blocking its topic.
// It creates PoisonTopic's table: the poison queue publishes inside the subscriber's transaction,
// where a missing table would abort it and leave the message blocking its topic for good.
func (b *Bus) Router(ctx context.Context) (*message.Router, error) {
	if err := b.InitTopics(ctx, routerGroup, PoisonTopic); err != nil {
		return nil, fmt.Errorf("create router: %w", err)
	}
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, b.logger)
	if err != nil {
		return nil, fmt.Errorf("create router: %w", err)
	}
	poison, err := middleware.PoisonQueue(b.Publisher(), PoisonTopic)
	if err != nil {
		return nil, fmt.Errorf("create poison queue middleware: %w", err)
	}
	r.AddMiddleware(
		poison,
		middleware.Retry{
			MaxRetries:      b.opts.MaxRetries,
			InitialInterval: b.opts.RetryInterval,
			MaxInterval:     5 * time.Second,
			Multiplier:      2,
			Logger:          b.logger,
		}.Middleware,
		middleware.Recoverer,
		savepoint,
	)
	return r, nil
}

// routerGroup is the consumer group InitTopics is given for the poison topic's tables; it reads
// nothing.
const routerGroup = "router"

// Table is the quoted name of a topic's messages table.
func Table(topic string) string { return pgx.Identifier{"watermill_" + topic}.Sanitize() }

// OffsetsTable is the quoted name of the table holding each consumer group's position in topic.
func OffsetsTable(topic string) string { return offsetsTable(topic) }

// Exec runs a statement on the bus's pool (schema chores around topic tables).
func (b *Bus) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := b.pool.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

// Publish publishes msgs on topic on their own (outside any transaction).
func (b *Bus) Publish(ctx context.Context, topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		m.SetContext(ctx)
	}
	return b.Publisher().Publish(topic, msgs...)
}
