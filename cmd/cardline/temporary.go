package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"cardline/internal/mailpit"
	"cardline/temporary"
)

func temporaryCommand() command {
	return command{name: "temporary", summary: "temporary HSE cards by mail: the outbox, and resending an order's mail", subs: []command{
		{name: "list", summary: "list the mail outbox, failures with their reasons", run: temporaryList},
		{name: "resend", summary: "send an order's temporary cards again (recorded in the outbox)", run: temporaryResend},
	}}
}

// mailConfig is what the temporary-card mailer needs besides the QR signing settings (which the
// card face owns). serve and demo register its flags and build the mailer with mailer.
type mailConfig struct {
	smtpAddr string
	smtpUser string
	startTLS string
	from     string
	timeout  time.Duration
}

func (c *mailConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.smtpAddr, "smtp-addr", envOr("CARDLINE_SMTP_ADDR", "127.0.0.1:25"), "SMTP relay host:port (env CARDLINE_SMTP_ADDR)")
	fs.StringVar(&c.smtpUser, "smtp-user", envOr("CARDLINE_SMTP_USER", ""),
		"SMTP user; empty for no authentication (env CARDLINE_SMTP_USER; the password only from env CARDLINE_SMTP_PASSWORD)")
	fs.StringVar(&c.startTLS, "smtp-starttls", envOr("CARDLINE_SMTP_STARTTLS", string(temporary.StartTLSRequired)),
		"STARTTLS: required, opportunistic or off (env CARDLINE_SMTP_STARTTLS)")
	fs.StringVar(&c.from, "mail-from", envOr("CARDLINE_MAIL_FROM", "HMS-kort <hms-kort@localhost>"), "sender of the orderers' mail (env CARDLINE_MAIL_FROM)")
	fs.DurationVar(&c.timeout, "smtp-timeout", time.Minute, "time limit of one SMTP conversation")
}

// mailer builds the temporary-card mailer of a service. statusBase and key sign the QR codes, as on
// the plastic cards.
func (c *mailConfig) mailer(s *service, statusBase string, key ed25519.PrivateKey) (*temporary.Mailer, error) {
	from, err := mail.ParseAddress(c.from)
	if err != nil {
		return nil, fmt.Errorf("mail sender %q: %w", c.from, err)
	}
	policy, err := temporary.ParseStartTLS(c.startTLS)
	if err != nil {
		return nil, err
	}
	smtp, err := temporary.NewSMTP(temporary.SMTPConfig{Addr: c.smtpAddr, Username: c.smtpUser, Password: os.Getenv("CARDLINE_SMTP_PASSWORD"),
		StartTLS: policy, Timeout: c.timeout})
	if err != nil {
		return nil, err
	}
	return temporary.NewMailer(temporary.Config{From: *from, StatusBaseURL: statusBase, SigningKey: key, Lease: 2*smtp.Timeout() + time.Minute},
		s.bus, s.store, smtp, s.log)
}

// outboxMailer is a mailer that only reads and records jobs (no SMTP): the running service sends.
func outboxMailer(ctx context.Context, cfg config, log *slog.Logger) (*temporary.Mailer, func(), error) {
	svc, err := openService(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	m, err := temporary.NewMailer(temporary.Config{From: mail.Address{Address: "outbox@localhost"}}, svc.bus, svc.store, nil, log)
	if err != nil {
		svc.close()
		return nil, nil, err
	}
	return m, svc.close, nil
}

func temporaryList(ctx context.Context, a *app, args []string) error {
	var cfg config
	fs := newFlags(a, "cardline temporary list", "", "Lists the mails of temporary cards, newest first: one per accepted order and "+
		"one per resend, with state, attempts and the last error. Failed mails need an operator: fix the address "+
		"upstream or ask the orderer, then `cardline temporary resend`.")
	cfg.dbFlags(fs)
	state := fs.String("state", "", "only mails in this state (pending, sending, sent, failed)")
	order := fs.String("order", "", "only mails of this order")
	limit := fs.Int("limit", 100, "at most this many mails")
	asJSON := fs.Bool("json", false, "print JSON lines instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errors.New("temporary list takes no arguments")
	}
	m, closeDB, err := outboxMailer(ctx, cfg, a.log)
	if err != nil {
		return err
	}
	defer closeDB()
	jobs, err := m.Jobs(ctx, temporary.JobState(*state), *order, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(a.stdout)
		for _, j := range jobs {
			if err := enc.Encode(j); err != nil {
				return err
			}
		}
		return nil
	}
	printJobs(a.stdout, jobs)
	return nil
}

func printJobs(w io.Writer, jobs []temporary.Job) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tORDER\tKIND\tSTATE\tATTEMPTS\tRECIPIENT\tCREATED\tSENT / NEXT ATTEMPT")
	var failed []temporary.Job
	for _, j := range jobs {
		when := "-"
		switch {
		case j.SentAt != nil:
			when = j.SentAt.Local().Format("2006-01-02 15:04:05")
		case j.State == temporary.JobPending || j.State == temporary.JobSending:
			when = "next " + j.NextAttemptAt.Local().Format("15:04:05")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", j.ID, j.OrderID, j.Kind, j.State, j.Attempts, j.Recipient,
			j.CreatedAt.Local().Format("2006-01-02 15:04:05"), when)
		if j.State == temporary.JobFailed || (j.State == temporary.JobPending && j.LastError != "") {
			failed = append(failed, j)
		}
	}
	tw.Flush()
	if len(failed) > 0 {
		fmt.Fprintln(w, "\nproblems:")
		for _, j := range failed {
			fmt.Fprintf(w, "  job %d, order %s (%s): %s\n", j.ID, j.OrderID, j.State, j.LastError)
		}
	}
}

func temporaryResend(ctx context.Context, a *app, args []string) error {
	var cfg config
	fs := newFlags(a, "cardline temporary resend", "ORDER", "Records a new mail of the order's temporary cards to the orderer, "+
		"with a Message-ID of its own, who asked and why. The running service (cardline serve) sends it; with --wait "+
		"this command waits for the outcome.")
	cfg.dbFlags(fs)
	by := fs.String("by", envOr("USER", "operator"), "who asks for the resend (recorded)")
	reason := fs.String("reason", "", "why (recorded)")
	wait := fs.Duration("wait", 0, "wait this long for the mail to be sent or failed (0: do not wait)")
	rest, err := parseInterspersed(fs, args) // ORDER --reason …
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fs.Usage()
		return fmt.Errorf("temporary resend takes one order id, got %q", rest)
	}
	m, closeDB, err := outboxMailer(ctx, cfg, a.log)
	if err != nil {
		return err
	}
	defer closeDB()
	j, err := m.Resend(ctx, strings.TrimSpace(rest[0]), *by, *reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "resend of order %s recorded as job %d (Message-ID <%s>) to %s\n", j.OrderID, j.ID, j.MessageID, j.Recipient)
	if *wait <= 0 {
		return nil
	}
	deadline := time.Now().Add(*wait)
	for j.State != temporary.JobSent && j.State != temporary.JobFailed {
		if time.Now().After(deadline) {
			return fmt.Errorf("job %d still %s after %s (is cardline serve running?); last error: %s", j.ID, j.State, *wait, j.LastError)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if j, err = m.Job(ctx, j.ID); err != nil {
			return err
		}
	}
	if j.State == temporary.JobFailed {
		return fmt.Errorf("job %d failed: %s", j.ID, j.LastError)
	}
	fmt.Fprintf(a.stdout, "sent %s after %d attempt(s)\n", j.SentAt.Local().Format(time.RFC3339), j.Attempts)
	return nil
}

// demoMail starts Mailpit for the demo and a mailer that sends to it (no STARTTLS: loopback). The
// caller registers the mailer's handler on the service's router, runs it, and stops Mailpit when
// done; orderers' mails are then readable at the returned server's URL and through its API.
func demoMail(ctx context.Context, s *service, statusBase string, key ed25519.PrivateKey) (*temporary.Mailer, *mailpit.Server, error) {
	mp, err := mailpit.Start(ctx, mailpit.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("demo mail: %w (run `make tools` to build Mailpit)", err)
	}
	mc := mailConfig{smtpAddr: mp.SMTPAddr, startTLS: string(temporary.StartTLSOff), from: "HMS-kort <hms-kort@cardline.example>", timeout: 30 * time.Second}
	m, err := mc.mailer(s, statusBase, key)
	if err != nil {
		mp.Stop()
		return nil, nil, err
	}
	return m, mp, nil
}

// saveMails writes every mail Mailpit received into dir: per mail a folder named after its order
// with the text body and the attachments, so the demo's output shows what orderers got.
func saveMails(ctx context.Context, mp *mailpit.Server, dir string) (int, error) {
	list, err := mp.Messages(ctx)
	if err != nil {
		return 0, err
	}
	for i, s := range list {
		msg, err := mp.Message(ctx, s.ID)
		if err != nil {
			return i, err
		}
		h, err := mp.Headers(ctx, s.ID)
		if err != nil {
			return i, err
		}
		name := fmt.Sprintf("%03d", len(list)-i)
		if o := h["X-Cardline-Order"]; len(o) == 1 {
			name += "-" + o[0]
		}
		sub := filepath.Join(dir, name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return i, err
		}
		text := "Message-ID: <" + msg.MessageID + ">\nTo: " + s.To[0].Address + "\nSubject: " + msg.Subject + "\n\n" + msg.Text
		if err := os.WriteFile(filepath.Join(sub, "mail.txt"), []byte(text), 0o644); err != nil {
			return i, err
		}
		for _, a := range msg.Attachments {
			b, err := mp.Part(ctx, s.ID, a.PartID)
			if err != nil {
				return i, err
			}
			if err := os.WriteFile(filepath.Join(sub, filepath.Base(a.FileName)), b, 0o644); err != nil {
				return i, err
			}
		}
	}
	return len(list), nil
}
