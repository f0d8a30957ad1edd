package temporary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/bus"
	"cardline/internal/mailpit"
	"cardline/internal/testsupport"
	"cardline/production"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// line is intake and the temporary-card stage on a real database, as `cardline serve` runs them.
type line struct {
	pool  *pgxpool.Pool
	bus   *bus.Bus
	store *production.Store
}

func openLine(t testing.TB) *line {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testsupport.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := production.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return &line{pool: pool, bus: bus.New(pool, quiet, bus.Options{PollInterval: 10 * time.Millisecond}), store: production.NewStore(pool)}
}

// testConfig is a mailer configuration that retries fast.
func testConfig() Config {
	return Config{
		From:          mail.Address{Name: "HMS-kort", Address: "hms-kort@cardline.example"},
		StatusBaseURL: testStatusBase,
		SigningKey:    testKey,
		PollInterval:  10 * time.Millisecond,
		Lease:         time.Minute,
		MinBackoff:    50 * time.Millisecond,
		MaxBackoff:    200 * time.Millisecond,
		MaxAttempts:   30,
	}
}

func (l *line) mailer(t testing.TB, cfg Config, s Sender) *Mailer {
	t.Helper()
	m, err := NewMailer(cfg, l.bus, l.store, s, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func smtpTo(t testing.TB, mp *mailpit.Server) *SMTP {
	t.Helper()
	s, err := NewSMTP(SMTPConfig{Addr: mp.SMTPAddr, StartTLS: StartTLSOff, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runRouter runs intake and m's handler until the test ends.
func (l *line) runRouter(t testing.TB, m *Mailer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cal, err := production.NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	in := &production.Intake{Bus: l.bus, Log: quiet, Now: time.Now,
		Validator: &production.Validator{HolderSecret: []byte("test-secret"), Calendar: cal, Now: time.Now}}
	router, err := l.bus.Router(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inSub, err := l.bus.Subscriber(production.IntakeConsumerGroup)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Register(ctx, router, inSub); err != nil {
		t.Fatal(err)
	}
	sub, err := l.bus.Subscriber(ConsumerGroup)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Register(ctx, router, sub); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	<-router.Running()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// runWorker runs m.Run until the returned stop is called (or the test ends).
func runWorker(t testing.TB, m *Mailer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func (l *line) submit(t testing.TB, orders ...*production.OrderApproved) {
	t.Helper()
	for _, o := range orders {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.bus.Publish(context.Background(), production.TopicOrdersApproved, message.NewMessage(watermill.NewUUID(), b)); err != nil {
			t.Fatal(err)
		}
	}
}

// waitJobs waits until every job of the orders is in a final state (sent or failed) and returns
// them by order id. Only the first job of each order counts (resends are looked up separately).
func (l *line) waitJobs(t testing.TB, m *Mailer, orderIDs ...string) map[string]Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		jobs, err := m.Jobs(context.Background(), "", "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		byOrder := map[string]Job{}
		for _, j := range jobs {
			if j.Kind == KindAccepted {
				byOrder[j.OrderID] = j
			}
		}
		final := 0
		for _, id := range orderIDs {
			if j, ok := byOrder[id]; ok && (j.State == JobSent || j.State == JobFailed) {
				final++
			}
		}
		if final == len(orderIDs) {
			return byOrder
		}
		if time.Now().After(deadline) {
			t.Fatalf("mail jobs not final after 60 s: %+v", byOrder)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *line) events(t testing.TB, topic string) []map[string]any {
	t.Helper()
	rows, err := l.pool.Query(context.Background(), `SELECT payload FROM `+bus.Table(topic)+` ORDER BY "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		var e map[string]any
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// messagesTo returns Mailpit's messages whose X-Cardline-Order is orderID, oldest first.
func messagesTo(t testing.TB, mp *mailpit.Server, orderID string) []*mailpit.Message {
	t.Helper()
	ctx := context.Background()
	list, err := mp.Messages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*mailpit.Message
	for i := len(list) - 1; i >= 0; i-- {
		h, err := mp.Headers(ctx, list[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h["X-Cardline-Order"]) == 1 && h["X-Cardline-Order"][0] == orderID {
			m, err := mp.Message(ctx, list[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

// checkMail checks one delivered mail against its job: headers, both bodies in both languages, and
// each attachment byte for byte against the PDF the worker renders for the job.
func checkMail(t *testing.T, mp *mailpit.Server, m *Mailer, got *mailpit.Message, j Job) {
	t.Helper()
	ctx := context.Background()
	if got.MessageID != j.MessageID {
		t.Errorf("Message-ID %q, job says %q", got.MessageID, j.MessageID)
	}
	if len(got.To) != 1 || got.To[0].Address != j.Recipient || got.From.Address != "hms-kort@cardline.example" {
		t.Errorf("from %v to %v, want to %s", got.From, got.To, j.Recipient)
	}
	if !strings.Contains(got.Subject, j.OrderID) || !strings.Contains(got.Subject, "Midlertidig HMS-kort") {
		t.Errorf("subject %q", got.Subject)
	}
	want, _, err := m.build(ctx, &j)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []struct{ name, text string }{{"text", got.Text}, {"HTML", got.HTML}} {
		for _, s := range []string{j.OrderID, "Vedlagt er et midlertidig HMS-kort", "Attached is a temporary HSE card"} {
			if !strings.Contains(body.text, s) {
				t.Errorf("%s body lacks %q", body.name, s)
			}
		}
	}
	if len(got.Attachments) != len(want.Attachments) || len(got.Attachments) != len(j.Cards) {
		t.Fatalf("%d attachments, want %d (cards %v)", len(got.Attachments), len(want.Attachments), j.Cards)
	}
	for i, a := range got.Attachments {
		if a.FileName != want.Attachments[i].Name || a.ContentType != "application/pdf" || !strings.Contains(a.FileName, j.Cards[i]) {
			t.Errorf("attachment %d: %s (%s), want %s", i, a.FileName, a.ContentType, want.Attachments[i].Name)
		}
		data, err := mp.Part(ctx, got.ID, a.PartID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, want.Attachments[i].Data) {
			t.Errorf("attachment %s: %d bytes differ from the rendered %d bytes", a.FileName, len(data), len(want.Attachments[i].Data))
		}
		if !strings.Contains(got.Text, j.Cards[i]) || !strings.Contains(got.HTML, j.Cards[i]) {
			t.Errorf("card %s not listed in the mail", j.Cards[i])
		}
	}
}

func TestMailThroughMailpit(t *testing.T) {
	l := openLine(t)
	mp := testsupport.Mailpit(t)
	m := l.mailer(t, testConfig(), smtpTo(t, mp))
	l.runRouter(t, m)
	runWorker(t, m)

	s := production.NewSamples(7)
	approved := time.Now().Add(-time.Hour)
	one, three := s.Order(1, approved), s.Order(3, approved)
	three.Cards[1].Holder.GivenName = "Aleksandra Małgorzata Żaneta"
	three.Cards[1].Holder.FamilyName = "Grzegorzewska-Kazlauskienė-Šimkutė-Ødegård-Åsheim"
	l.submit(t, one, three)
	jobs := l.waitJobs(t, m, one.OrderID, three.OrderID)

	for _, o := range []*production.OrderApproved{one, three} {
		j := jobs[o.OrderID]
		if j.State != JobSent || j.Attempts != 1 || j.Recipient != o.Orderer.Email || len(j.Cards) != len(o.Cards) {
			t.Errorf("order %s: job %+v", o.OrderID, j)
		}
		got := messagesTo(t, mp, o.OrderID)
		if len(got) != 1 {
			t.Fatalf("order %s: %d mails delivered, want 1", o.OrderID, len(got))
		}
		checkMail(t, mp, m, got[0], j)
	}
	if !strings.Contains(messagesTo(t, mp, three.OrderID)[0].Text, "Grzegorzewska-Kazlauskienė-Šimkutė-Ødegård-Åsheim") {
		t.Error("long name not in the mail as sent")
	}

	// The OrderAccepted events again, as after a crash of the subscriber before its offset
	// committed: no new job, no new mail.
	for _, e := range l.events(t, production.TopicOrdersAccepted) {
		b, _ := json.Marshal(e)
		if err := l.bus.Publish(context.Background(), production.TopicOrdersAccepted, message.NewMessage(watermill.NewUUID(), b)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // a redelivery would have been handled and sent by now
	if all, _ := m.Jobs(context.Background(), "", "", 100); len(all) != 2 {
		t.Errorf("%d jobs after redelivery, want 2", len(all))
	}
	if list, _ := mp.Messages(context.Background()); len(list) != 2 {
		t.Errorf("%d mails after redelivery, want 2", len(list))
	}
	mailed := l.events(t, TopicMailed)
	if len(mailed) != 2 {
		t.Errorf("%d TemporaryCardsMailed events, want 2", len(mailed))
	}

	// A resend on request: a new job of its own, recorded with who asked, a new Message-ID, and the
	// same cards.
	r, err := m.Resend(context.Background(), one.OrderID, "operator kari", "orderer lost the mail")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for r.State != JobSent && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if r, err = m.Job(context.Background(), r.ID); err != nil {
			t.Fatal(err)
		}
	}
	if r.State != JobSent || r.Kind != KindResend || r.RequestedBy != "operator kari" || r.MessageID == jobs[one.OrderID].MessageID {
		t.Errorf("resend job %+v", r)
	}
	got := messagesTo(t, mp, one.OrderID)
	if len(got) != 2 || got[1].MessageID != r.MessageID || !strings.Contains(got[1].Text, "sent on request") {
		t.Fatalf("after resend: %d mails for the order", len(got))
	}
	checkMail(t, mp, m, got[1], *r)
	if _, err := m.Resend(context.Background(), "A-2026-9999999", "operator kari", ""); err == nil {
		t.Error("resend of an unknown order succeeded")
	}
}

// switchSender sends through whichever real sender it holds now: the test points it at a closed
// port first, then at Mailpit.
type switchSender struct {
	mu sync.Mutex
	s  Sender
}

func (s *switchSender) set(to Sender) { s.mu.Lock(); s.s = to; s.mu.Unlock() }
func (s *switchSender) Send(ctx context.Context, m *Mail) error {
	s.mu.Lock()
	to := s.s
	s.mu.Unlock()
	return to.Send(ctx, m)
}

func TestMailFailures(t *testing.T) {
	l := openLine(t)
	// Mailpit refuses recipients at bounce.example for good (550), and answers 451 to everyone
	// while chaos is on.
	mp := testsupport.Mailpit(t, "--smtp-allowed-recipients", `@bygg\.example$`, "--enable-chaos")
	port, err := testsupport.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	closed, err := NewSMTP(SMTPConfig{Addr: fmt.Sprintf("127.0.0.1:%d", port), StartTLS: StartTLSOff, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sender := &switchSender{s: closed}
	m := l.mailer(t, testConfig(), sender)
	l.runRouter(t, m)

	s := production.NewSamples(11)
	approved := time.Now().Add(-time.Hour)
	good, bounce, slow := s.Order(1, approved), s.Order(2, approved), s.Order(1, approved)
	bounce.Orderer.Email = "nobody@bounce.example"
	l.submit(t, good, bounce)
	waitFor(t, func() bool { jobs, _ := m.Jobs(context.Background(), "", "", 10); return len(jobs) == 2 })
	stop := runWorker(t, m)

	// Connection refused: both retried with back-off, nothing lost.
	waitFor(t, func() bool {
		jobs, _ := m.Jobs(context.Background(), JobPending, "", 10)
		return len(jobs) == 2 && jobs[0].Attempts >= 2 && jobs[1].Attempts >= 2
	})
	jobs, _ := m.Jobs(context.Background(), JobPending, "", 10)
	for _, j := range jobs {
		if !strings.Contains(j.LastError, "connection refused") {
			t.Errorf("job of %s: last error %q, want connection refused", j.OrderID, j.LastError)
		}
	}

	// The relay is back but says 451 to every recipient: still retried.
	if err := mp.SetRecipientChaos(context.Background(), 451, 100); err != nil {
		t.Fatal(err)
	}
	sender.set(smtpTo(t, mp))
	waitFor(t, func() bool {
		jobs, _ := m.Jobs(context.Background(), JobPending, "", 10)
		return len(jobs) == 2 && strings.Contains(jobs[0].LastError, "451") && strings.Contains(jobs[1].LastError, "451")
	})

	// Chaos off: the good order goes; the bounce is failed with the relay's reason, once, and
	// does not hold up an order that comes after it.
	if err := mp.SetRecipientChaos(context.Background(), 451, 0); err != nil {
		t.Fatal(err)
	}
	l.submit(t, slow)
	final := l.waitJobs(t, m, good.OrderID, bounce.OrderID, slow.OrderID)
	stop()
	if j := final[good.OrderID]; j.State != JobSent || j.Attempts < 3 {
		t.Errorf("good order: %+v", j)
	}
	if j := final[slow.OrderID]; j.State != JobSent {
		t.Errorf("order after the bounce: %+v", j)
	}
	b := final[bounce.OrderID]
	if b.State != JobFailed || !strings.Contains(b.LastError, "550") || !strings.Contains(b.LastError, "permanent") {
		t.Errorf("bounced order: state %s, error %q", b.State, b.LastError)
	}
	failed := l.events(t, TopicFailed)
	if len(failed) != 1 || failed[0]["order_id"] != bounce.OrderID || !strings.Contains(failed[0]["reason"].(string), "550") {
		t.Errorf("failed events: %v", failed)
	}
	if n := len(messagesTo(t, mp, bounce.OrderID)); n != 0 {
		t.Errorf("%d mails to the bounced recipient", n)
	}
	if n := len(messagesTo(t, mp, good.OrderID)); n != 1 {
		t.Errorf("%d mails for the good order, want 1", n)
	}
}

// TestCrashBetweenSentAndRecorded kills the worker after the relay accepted the mail and before the
// outbox recorded it. The design accepts a duplicate there, never a loss: the job is still leased
// to the dead worker, the next worker sends it again when the lease ends, with the same Message-ID,
// and records it once. A recipient system that drops repeated Message-IDs (Mailpit with
// --ignore-duplicate-ids, like many mail stores) then holds exactly one mail.
func TestCrashBetweenSentAndRecorded(t *testing.T) {
	for _, dedupe := range []bool{false, true} {
		t.Run(fmt.Sprintf("dedupe=%v", dedupe), func(t *testing.T) {
			l := openLine(t)
			var mp *mailpit.Server
			if dedupe {
				mp = testsupport.Mailpit(t, "--ignore-duplicate-ids")
			} else {
				mp = testsupport.Mailpit(t)
			}
			cfg := testConfig()
			cfg.Lease = 2 * time.Second // longer than the SMTP time-out, as NewMailer demands
			cfg.Workers = 1
			relay, err := NewSMTP(SMTPConfig{Addr: mp.SMTPAddr, StartTLS: StartTLSOff, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			first := l.mailer(t, cfg, relay)
			l.runRouter(t, first)

			crashed := make(chan struct{})
			ctx, crash := context.WithCancel(context.Background())
			first.afterSend = func(context.Context, *Job) error {
				crash() // the process dies here: nothing after this runs
				close(crashed)
				return errors.New("crash")
			}
			done := make(chan error, 1)
			go func() { done <- first.Run(ctx) }()

			o := production.NewSamples(3).Order(2, time.Now().Add(-time.Hour))
			l.submit(t, o)
			<-crashed
			<-done
			jobs, _ := first.Jobs(context.Background(), "", "", 10)
			if len(jobs) != 1 || jobs[0].State != JobSending || jobs[0].Attempts != 1 {
				t.Fatalf("after the crash: %+v", jobs)
			}
			if n := len(messagesTo(t, mp, o.OrderID)); n != 1 {
				t.Fatalf("%d mails delivered before the crash, want 1", n)
			}

			// The restarted service.
			second := l.mailer(t, cfg, relay)
			runWorker(t, second)
			j := l.waitJobs(t, second, o.OrderID)[o.OrderID]
			if j.State != JobSent || j.Attempts != 2 {
				t.Errorf("after restart: %+v", j)
			}
			if n := len(l.events(t, TopicMailed)); n != 1 {
				t.Errorf("%d TemporaryCardsMailed events, want 1", n)
			}
			got := messagesTo(t, mp, o.OrderID)
			want := 2
			if dedupe {
				want = 1
			}
			if len(got) != want {
				t.Fatalf("%d mails in the mailbox, want %d", len(got), want)
			}
			for _, g := range got {
				checkMail(t, mp, second, g, j) // the same Message-ID and the same PDFs each time
			}
		})
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
