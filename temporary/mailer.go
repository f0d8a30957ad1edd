package temporary

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"cardline/internal/bus"
	"cardline/printer"
	"cardline/production"
)

// Sender hands a mail to a relay. An error that is a *SendError with Permanent set will not be
// retried; any other error will be.
type Sender interface {
	Send(ctx context.Context, m *Mail) error
}

// Config configures a Mailer.
type Config struct {
	// From is the sender of the mails; its domain also names the Message-IDs.
	From mail.Address
	// StatusBaseURL and SigningKey make the signed status URL of each card's QR code, as on the
	// plastic card (CARDLINE_STATUS_BASE_URL, CARDLINE_QR_SIGNING_KEY).
	StatusBaseURL string
	SigningKey    ed25519.PrivateKey
	// Zone is where dates are read; default Europe/Oslo.
	Zone *time.Location
	// PollInterval is how long an idle worker waits before looking for due jobs again (default 1 s).
	PollInterval time.Duration
	// Lease is how long a claimed job is left to its worker before it counts as abandoned and is
	// sent again (default 10 min). It must exceed rendering plus the SMTP time-out, or a slow but
	// live attempt is repeated.
	Lease time.Duration
	// MinBackoff and MaxBackoff bound the wait after a temporary failure: it doubles from MinBackoff
	// (default 30 s) up to MaxBackoff (default 1 h), with ±20 % jitter so a relay that comes back
	// is not hit by every job at once.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts is how many attempts a job gets before it is failed for operators (default 30:
	// about a day with the default back-off).
	MaxAttempts int
	// Workers is how many jobs are worked on at once (default 2).
	Workers int
}

func (c Config) withDefaults() Config {
	if c.Zone == nil {
		c.Zone, _ = time.LoadLocation("Europe/Oslo")
		if c.Zone == nil {
			c.Zone = time.UTC
		}
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.Lease == 0 {
		c.Lease = 10 * time.Minute
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 30 * time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Hour
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 30
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	return c
}

// Mailer is the temporary-card stage: Register adds the handler that records one mail job per
// accepted order; Run is the worker that renders, sends and records the outcome.
type Mailer struct {
	cfg    Config
	bus    *bus.Bus
	store  *production.Store
	outbox *outbox
	sender Sender
	log    *slog.Logger
	now    func() time.Time

	// afterSend runs between a successful send and its record: tests crash the worker there.
	afterSend func(ctx context.Context, j *Job) error
}

// NewMailer checks cfg and makes a Mailer. sender may be nil for a Mailer that only records jobs
// (the handler, the CLI); Run then refuses to start.
func NewMailer(cfg Config, b *bus.Bus, store *production.Store, sender Sender, log *slog.Logger) (*Mailer, error) {
	cfg = cfg.withDefaults()
	if _, err := mail.ParseAddress(cfg.From.Address); err != nil {
		return nil, fmt.Errorf("temporary card mailer: sender address %q: %w", cfg.From.Address, err)
	}
	if cfg.Lease < 0 {
		return nil, fmt.Errorf("temporary card mailer: lease %s must be positive", cfg.Lease)
	}
	if t, ok := sender.(interface{ Timeout() time.Duration }); ok && cfg.Lease <= t.Timeout() {
		return nil, fmt.Errorf("temporary card mailer: lease %s must exceed the SMTP time-out %s, or a slow but live attempt is sent again",
			cfg.Lease, t.Timeout())
	}
	if sender != nil {
		if _, err := printer.StatusURL(cfg.StatusBaseURL, cfg.SigningKey, "0000000000", time.Now()); err != nil {
			return nil, fmt.Errorf("temporary card mailer: %w", err)
		}
	}
	return &Mailer{cfg: cfg, bus: b, store: store, outbox: &outbox{pool: store.Pool()}, sender: sender,
		log: log.With("stage", "temporary"), now: time.Now}, nil
}

// Register adds the OrderAccepted handler to router, reading production.TopicOrdersAccepted with
// sub (a subscriber of ConsumerGroup), and prepares the topics the worker publishes to.
func (m *Mailer) Register(ctx context.Context, router *message.Router, sub message.Subscriber) error {
	if err := m.bus.InitTopics(ctx, ConsumerGroup, production.TopicOrdersAccepted, TopicMailed, TopicFailed); err != nil {
		return err
	}
	router.AddConsumerHandler("temporary", production.TopicOrdersAccepted, sub, m.Handle)
	return nil
}

// Handle records the mail job of an accepted order in the subscriber's transaction and returns: the
// slow work is the worker's. A redelivered event finds the job recorded and changes nothing.
func (m *Mailer) Handle(msg *message.Message) error {
	ctx := msg.Context()
	var ev production.OrderAcceptedEvent
	if err := json.Unmarshal(msg.Payload, &ev); err != nil || ev.OrderID == "" {
		return fmt.Errorf("temporary: message %s is not an OrderAccepted event: %v", msg.UUID, err)
	}
	tx, err := bus.Tx(ctx)
	if err != nil {
		return err
	}
	created, err := enqueueAccepted(ctx, tx, ev.OrderID, m.messageID(ev.OrderID, KindAccepted))
	if err != nil {
		return err
	}
	m.log.Debug("mail job", "order", ev.OrderID, "new", created)
	return nil
}

func (m *Mailer) messageID(orderID, kind string) string {
	token := make([]byte, 8)
	crand.Read(token) // never fails
	return NewMessageID(orderID, kind, hex.EncodeToString(token), m.cfg.From.Address)
}

// Resend records a new copy of an order's mail, requested by an operator for a reason; the worker
// sends it like any other job, with a Message-ID of its own.
func (m *Mailer) Resend(ctx context.Context, orderID, by, reason string) (*Job, error) {
	if by == "" {
		return nil, errors.New("resend: say who asks for it")
	}
	return m.outbox.resend(ctx, orderID, m.messageID(orderID, KindResend), by, reason)
}

// Jobs lists outbox jobs newest first, optionally only in state or of one order.
func (m *Mailer) Jobs(ctx context.Context, state JobState, orderID string, limit int) ([]Job, error) {
	return m.outbox.list(ctx, state, orderID, limit)
}

// Job reads one job.
func (m *Mailer) Job(ctx context.Context, id int64) (*Job, error) { return m.outbox.job(ctx, id) }

// Run works on due jobs until ctx ends, with Config.Workers workers. Database trouble is logged and
// waited out: the worker outlives a database restart.
func (m *Mailer) Run(ctx context.Context) error {
	if m.sender == nil {
		return errors.New("temporary card mailer: no sender configured")
	}
	// The outcome events are published inside transactions, where watermill cannot create tables.
	if err := m.bus.InitTopics(ctx, ConsumerGroup, TopicMailed, TopicFailed); err != nil {
		return fmt.Errorf("temporary card mailer: %w", err)
	}
	var wg sync.WaitGroup
	for i := range m.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.work(ctx, m.log.With("worker", i))
		}()
	}
	wg.Wait()
	return nil
}

func (m *Mailer) work(ctx context.Context, log *slog.Logger) {
	for ctx.Err() == nil {
		did, err := m.RunOnce(ctx, 0)
		if err != nil && ctx.Err() == nil {
			log.Error("mail worker", "err", err)
		}
		if did && err == nil {
			continue // there may be more due
		}
		select {
		case <-ctx.Done():
		case <-time.After(m.cfg.PollInterval):
		}
	}
}

// RunOnce claims one due job (job id, if id > 0) and makes one attempt at it. It reports whether
// there was a job.
func (m *Mailer) RunOnce(ctx context.Context, id int64) (bool, error) {
	j, err := m.outbox.claim(ctx, m.cfg.Lease, id)
	if err != nil || j == nil {
		return false, err
	}
	return true, m.attempt(ctx, j)
}

// attempt renders and sends j's mail and records the outcome.
func (m *Mailer) attempt(ctx context.Context, j *Job) error {
	log := m.log.With("order", j.OrderID, "job", j.ID, "attempt", j.Attempts)
	started := m.now()
	ml, cards, err := m.build(ctx, j)
	if err == nil {
		err = m.sender.Send(ctx, ml)
	}
	if err == nil && m.afterSend != nil {
		if err := m.afterSend(ctx, j); err != nil {
			return err // the crash: nothing recorded
		}
	}
	// The outcome is recorded even if ctx ends now, and a failing record is tried again (the mail is
	// not): a mail that went out and is not recorded is sent again after the lease.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.Lease/2)
	defer cancel()
	record := func() error { return m.record(rctx, log, j, cards, err, started) }
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		rerr := record()
		if rerr == nil || errors.Is(rerr, errLeaseLost) {
			return rerr
		}
		log.Error("record outcome of mail attempt; trying again", "err", rerr)
		select {
		case <-rctx.Done():
			return fmt.Errorf("%w (gave up; the job is retried when its lease ends)", rerr)
		case <-time.After(wait):
		}
	}
}

// record writes the outcome of an attempt: sent, failed for good, or due again after back-off.
func (m *Mailer) record(ctx context.Context, log *slog.Logger, j *Job, cards []string, err error, started time.Time) error {
	if err == nil {
		log.Info("temporary cards mailed", "to", j.Recipient, "cards", len(cards), "took", m.now().Sub(started).Round(time.Millisecond))
		return m.recordSent(ctx, j, cards)
	}
	var se *SendError
	permanent := errors.As(err, &se) && se.Permanent
	switch {
	case permanent:
		log.Warn("temporary card mail failed", "err", err)
		return m.recordFailed(ctx, j, err.Error())
	case j.Attempts >= m.cfg.MaxAttempts:
		log.Warn("temporary card mail failed: retries exhausted", "err", err)
		return m.recordFailed(ctx, j, fmt.Sprintf("gave up after %d attempts: %v", j.Attempts, err))
	default:
		delay := m.backoff(j.Attempts)
		log.Info("temporary card mail will be retried", "in", delay.Round(time.Second), "err", err)
		return m.recordRetry(ctx, j, err.Error(), delay)
	}
}

// build loads the order and its cards, renders a PDF per card and composes the mail. Rendering
// errors are permanent (the data will not change by waiting); database errors are not.
func (m *Mailer) build(ctx context.Context, j *Job) (*Mail, []string, error) {
	ord, numbers, err := m.outbox.order(ctx, j.OrderID)
	if err != nil {
		return nil, nil, err
	}
	if len(numbers) == 0 {
		return nil, nil, &SendError{Permanent: true, Err: fmt.Errorf("order %s has no active card", j.OrderID)}
	}
	ord.OrdererEmail = j.Recipient // the address recorded with the job
	cards := make([]*Card, len(numbers))
	pdfs := make([][]byte, len(numbers))
	for i, n := range numbers {
		c, o, err := m.store.Card(ctx, n)
		if err != nil {
			return nil, nil, err
		}
		if cards[i], err = m.card(c, o, j.CreatedAt); err != nil {
			return nil, nil, &SendError{Permanent: true, Err: err}
		}
		if pdfs[i], err = RenderPDF(cards[i]); err != nil {
			return nil, nil, &SendError{Permanent: true, Err: err}
		}
	}
	ml := Compose(m.cfg.From, j.MessageID, ord, cards, pdfs, j.Kind == KindResend, m.now())
	return ml, toStrings(numbers), nil
}

// card makes the temporary card of a stored card, issued at issued.
func (m *Mailer) card(c *production.Card, o *production.Order, issued time.Time) (*Card, error) {
	until, known := ValidUntil(c.Expiry, issued, m.cfg.Zone)
	url, err := printer.StatusURL(m.cfg.StatusBaseURL, m.cfg.SigningKey, string(c.Number), until)
	if err != nil {
		return nil, err
	}
	return &Card{
		CardType: o.CardType, CardNumber: string(c.Number), GivenName: c.Holder.GivenName, FamilyName: c.Holder.FamilyName,
		BirthDate: c.Holder.BirthDate, OrgName: o.CompanyName, OrgNumber: o.OrgNumber, OrderID: c.OrderID,
		Issued: issued.In(m.cfg.Zone), ValidUntil: until, ExpiryKnown: known, PhotoJPEG: c.Photo.JPEG, StatusURL: url,
	}, nil
}

func (m *Mailer) backoff(attempts int) time.Duration {
	d := m.cfg.MinBackoff
	for i := 1; i < attempts && d < m.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, m.cfg.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func (m *Mailer) recordSent(ctx context.Context, j *Job, cards []string) error {
	now := m.now()
	return m.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := finish(ctx, tx, j, `state = 'sent', sent_at = $3, last_error = NULL, cards = $4`, now, cards); err != nil {
			return err
		}
		return m.bus.PublishTx(ctx, tx, TopicMailed, event(MailedEvent{Type: "TemporaryCardsMailed", OrderID: j.OrderID, Kind: j.Kind,
			MessageID: j.MessageID, Recipient: j.Recipient, Cards: cards, Attempts: j.Attempts, SentAt: now}, j.OrderID))
	})
}

func (m *Mailer) recordFailed(ctx context.Context, j *Job, reason string) error {
	now := m.now()
	return m.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := finish(ctx, tx, j, `state = 'failed', last_error = $3`, reason); err != nil {
			return err
		}
		return m.bus.PublishTx(ctx, tx, TopicFailed, event(FailedEvent{Type: "TemporaryCardsFailed", OrderID: j.OrderID, Kind: j.Kind,
			MessageID: j.MessageID, Recipient: j.Recipient, Reason: reason, Attempts: j.Attempts, FailedAt: now}, j.OrderID))
	})
}

func (m *Mailer) recordRetry(ctx context.Context, j *Job, reason string, delay time.Duration) error {
	return m.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return finish(ctx, tx, j, `state = 'pending', last_error = $3, next_attempt_at = now() + $4::interval`, reason, delay)
	})
}

func event(payload any, orderID string) *message.Message {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(fmt.Sprintf("marshal event %T: %v", payload, err)) // our own types: cannot fail
	}
	msg := message.NewMessage(watermill.NewUUID(), b)
	msg.Metadata.Set("order_id", orderID)
	return msg
}

func toStrings(ns []production.CardNumber) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n)
	}
	return out
}
