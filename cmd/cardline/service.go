package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/encoder"
	"cardline/internal/bus"
	"cardline/printer"
	"cardline/production"
	"cardline/temporary"
)

// defaultDatabaseURL is a local Postgres; `cardline demo` brings its own throwaway one.
const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/cardline?sslmode=disable"

// config is what the service needs from its environment. Flags win over environment variables.
type config struct {
	databaseURL   string
	holderKey     string
	pollInterval  time.Duration
	batchSize     int
	statusBaseURL string
	qrKey         string
	mail          mailConfig
	stations      stationList // station.go
	virtualDir    string      // station.go: fixed folders of the virtual parts, for `cardline faultrun`
}

func (c *config) dbFlags(fs *flag.FlagSet) {
	c.databaseURL = envOr("DATABASE_URL", defaultDatabaseURL)
	fs.Var(hiddenString{&c.databaseURL, redactURL}, "database-url", "PostgreSQL `URL` (env DATABASE_URL)")
}

// hiddenString is a string flag whose value usage text never shows as it is: its default can
// come from the environment and hold a secret (a key, a database password), and usage goes to
// terminals and journals on every mistyped flag. redact is what usage shows of it; nil shows
// nothing.
type hiddenString struct {
	p      *string
	redact func(string) string
}

func (h hiddenString) String() string {
	if h.p == nil || h.redact == nil {
		return ""
	}
	return h.redact(*h.p)
}

func (h hiddenString) Set(s string) error { *h.p = s; return nil }

func (c *config) serviceFlags(fs *flag.FlagSet) {
	c.dbFlags(fs)
	c.holderKey = envOr("CARDLINE_HOLDER_KEY", "")
	fs.Var(hiddenString{p: &c.holderKey}, "holder-key",
		"secret (`hex`, at least 32 bytes) keying the hash that stands in for national ids (env CARDLINE_HOLDER_KEY); never change it once orders are stored")
	fs.DurationVar(&c.pollInterval, "poll-interval", 20*time.Millisecond, "how often idle subscribers look for messages")
	fs.IntVar(&c.batchSize, "batch-size", 50, "messages per subscriber transaction")
	fs.StringVar(&c.statusBaseURL, "status-base-url", envOr(envStatusBaseURL, defaultStatusBaseURL),
		"base URL of the card status service in the signed QR codes (env "+envStatusBaseURL+")")
	c.qrKey = envOr(envQRSigningKey, "")
	fs.Var(hiddenString{p: &c.qrKey}, "qr-signing-key",
		"Ed25519 `seed` (64 hex digits) signing the status QR codes on cards and temporary cards (env "+envQRSigningKey+")")
	c.mail.flags(fs)
	c.stations.flags(fs)
	fs.StringVar(&c.virtualDir, "virtual-dir", "", "keep the virtual parts in DIR/STATION (printer) and DIR/pcscd, and take injected faults "+
		"from files there (see faultrun.go); empty for throwaway folders")
}

func (c *config) qrSigningKey() (ed25519.PrivateKey, error) {
	if c.qrKey == "" {
		return nil, fmt.Errorf("QR signing key is not set: set %s (or --qr-signing-key) to an Ed25519 seed, 64 hex digits, e.g. from `openssl rand -hex 32`", envQRSigningKey)
	}
	return printer.ParseSigningKey(c.qrKey)
}

func (c *config) holderSecret() ([]byte, error) {
	if c.holderKey == "" {
		return nil, errors.New("holder key is not set: set CARDLINE_HOLDER_KEY (or --holder-key) to at least 32 random bytes in hex, e.g. from `openssl rand -hex 32`")
	}
	b, err := hex.DecodeString(strings.TrimSpace(c.holderKey))
	if err != nil {
		return nil, fmt.Errorf("holder key: must be hex: %w", err)
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("holder key: %d bytes, at least 32 needed", len(b))
	}
	return b, nil
}

// service is the line's running parts on one database.
type service struct {
	cfg   config
	log   *slog.Logger
	pool  *pgxpool.Pool
	bus   *bus.Bus
	store *production.Store
	// mailer sends the temporary cards; serve builds it from cfg.mail, the demo points it at Mailpit.
	mailer *temporary.Mailer
	// onVirtual, if set, is shown each virtual station's parts as they start (the demo injects
	// faults through them); the printer is nil when the station prints on a real one.
	onVirtual func(station string, t *encoder.VirtualTransport, vp *printer.VirtualPrinter)
	// metrics are the Prometheus metrics serve publishes (startClock makes them; nil elsewhere).
	metrics *production.Metrics
}

// openService connects and migrates.
func openService(ctx context.Context, cfg config, log *slog.Logger) (*service, error) {
	pool, err := openPool(ctx, cfg.databaseURL)
	if err != nil {
		return nil, err
	}
	if _, err := production.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &service{
		cfg:   cfg,
		log:   log,
		pool:  pool,
		bus:   bus.New(pool, log, bus.Options{PollInterval: cfg.pollInterval, BatchSize: cfg.batchSize}),
		store: production.NewStore(pool),
	}, nil
}

func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	// pgx's default (4 connections on a 2-core machine) is shared here by the bus's subscribers,
	// each holding a transaction while it handles a message, the mailer, the clock and every
	// station: they queued for connections and the line ran at a fraction of its speed. A URL's
	// own pool_max_conns wins.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultPoolConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", redactURL(url), err)
	}
	return pool, nil
}

// withStore opens the database at url for one command and runs f with its production store.
func withStore(ctx context.Context, url string, f func(*production.Store) error) error {
	pool, err := openPool(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	return f(production.NewStore(pool))
}

// defaultPoolConns is the connection pool's size unless the database URL says otherwise.
const defaultPoolConns = 20

// redactURL hides a password in a database URL for error messages.
func redactURL(u string) string {
	if !strings.Contains(u, "://") { // keyword form: host=… password=…
		fields := strings.Fields(u)
		for i, f := range fields {
			if k, _, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") {
				fields[i] = k + "=***"
			}
		}
		return strings.Join(fields, " ")
	}
	if at := strings.LastIndex(u, "@"); at > 0 {
		if scheme := strings.Index(u, "://"); scheme >= 0 {
			if colon := strings.Index(u[scheme+3:at], ":"); colon >= 0 {
				return u[:scheme+3+colon] + ":***" + u[at:]
			}
		}
	}
	return u
}

func (s *service) close() { s.pool.Close() }

// run runs the line's handlers until ctx ends. It returns only once everything it started has
// stopped: the caller closes the pool next, and a mail worker still sending would then find no
// pool to record its mail sent in, and the mail would go again after its lease.
func (s *service) run(ctx context.Context) error {
	var background sync.WaitGroup
	defer background.Wait()
	ctx, cancel := context.WithCancel(ctx) // an early return stops what was started
	defer cancel()
	secret, err := s.cfg.holderSecret()
	if err != nil {
		return err
	}
	cal, err := production.NewBusinessDays()
	if err != nil {
		return err
	}
	router, err := s.bus.Router(ctx)
	if err != nil {
		return err
	}
	sub, err := s.bus.Subscriber(production.IntakeConsumerGroup)
	if err != nil {
		return err
	}
	v := &production.Validator{HolderSecret: secret, Calendar: cal, Now: time.Now, AddressRule: labelAddressRule}
	intake := &production.Intake{Bus: s.bus, Log: s.log, Now: time.Now, Validator: v, Ahead: production.NewPrevalidator(s.pool, v)}
	intake.Ahead.Log = s.log
	background.Go(func() {
		if err := intake.Ahead.Run(ctx); err != nil {
			s.log.Warn("validation ahead stopped; intake validates inline", "err", err)
		}
	})
	if err := intake.Register(ctx, router, sub); err != nil {
		return err
	}
	if s.mailer == nil {
		key, err := s.cfg.qrSigningKey()
		if err != nil {
			return err
		}
		if s.mailer, err = s.cfg.mail.mailer(s, s.cfg.statusBaseURL, key); err != nil {
			return err
		}
	}
	msub, err := s.bus.Subscriber(temporary.ConsumerGroup)
	if err != nil {
		return err
	}
	if err := s.mailer.Register(ctx, router, msub); err != nil {
		return err
	}
	background.Go(func() {
		if err := s.mailer.Run(ctx); err != nil {
			s.log.Error("temporary-card mailer stopped", "err", err)
		}
	})
	if err := s.cfg.stations.fromEnv(); err != nil {
		return err
	}
	if len(s.cfg.stations) > 0 {
		stopStations, err := startStations(ctx, s, s.cfg.stations)
		if err != nil {
			return err
		}
		defer stopStations()
	}
	s.log.Info("cardline running", "topics_in", production.TopicOrdersApproved)
	if err := router.Run(ctx); err != nil {
		return fmt.Errorf("run router: %w", err)
	}
	return nil
}
