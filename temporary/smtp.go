package temporary

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// StartTLS is how the SMTP client treats STARTTLS.
type StartTLS string

// The STARTTLS policies. Required is the default for a real relay: the mail carries personal data.
const (
	StartTLSRequired      StartTLS = "required"      // refuse to send in clear
	StartTLSOpportunistic StartTLS = "opportunistic" // encrypt when the relay offers it
	StartTLSOff           StartTLS = "off"           // never (a relay on localhost, Mailpit in the demo)
)

// ParseStartTLS reads a policy name (CARDLINE_SMTP_STARTTLS).
func ParseStartTLS(s string) (StartTLS, error) {
	switch p := StartTLS(s); p {
	case StartTLSRequired, StartTLSOpportunistic, StartTLSOff:
		return p, nil
	}
	return "", fmt.Errorf("STARTTLS policy %q: want required, opportunistic or off", s)
}

// SMTPConfig says how to reach the relay.
type SMTPConfig struct {
	Addr     string // host:port
	Username string // empty: no authentication
	Password string
	StartTLS StartTLS
	// TLS overrides the TLS settings (tests pin their own CA); nil verifies the relay's host name
	// against the system roots.
	TLS *tls.Config
	// Timeout bounds the whole SMTP conversation of one mail.
	Timeout time.Duration
}

// SMTP sends mails to a relay, one connection per mail: mails are minutes apart, and a fresh
// connection never trips on a relay that dropped an idle one.
type SMTP struct {
	cfg  SMTPConfig
	host string
	port int
}

// NewSMTP checks cfg.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("SMTP relay address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("SMTP relay address %q: bad port", cfg.Addr)
	}
	if cfg.StartTLS == "" {
		cfg.StartTLS = StartTLSRequired
	}
	if _, err := ParseStartTLS(string(cfg.StartTLS)); err != nil {
		return nil, err
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("SMTP time-out %s: must be positive (or zero for the default, 1 minute)", cfg.Timeout)
	case cfg.Timeout == 0:
		cfg.Timeout = time.Minute
	}
	return &SMTP{cfg: cfg, host: host, port: port}, nil
}

// Timeout is the time limit of one SMTP conversation (the default applied): a mailer's lease must
// exceed it.
func (s *SMTP) Timeout() time.Duration { return s.cfg.Timeout }

// A SendError is a failed attempt to hand a mail to the relay. Permanent errors are the relay's 5xx
// answers to the recipient or to the message itself: sending again would fail again, so the mail
// is recorded as failed with Reason for an operator. Everything else (connection refused, time-outs,
// TLS and authentication trouble, 4xx answers) is temporary and retried with back-off: those are
// the relay's or our configuration's trouble, and the mail goes once they are fixed.
type SendError struct {
	Permanent bool
	Code      int // the SMTP reply code, 0 if the relay never answered
	Err       error
}

func (e *SendError) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("send mail (%s failure): %v", kind, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// Send hands m to the relay.
func (s *SMTP) Send(ctx context.Context, m *Mail) error {
	msg, err := s.message(m)
	if err != nil {
		return err // our own bug: not a relay failure, but still retried and then reported
	}
	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTimeout(s.cfg.Timeout), gomail.WithoutNoop()}
	switch s.cfg.StartTLS {
	case StartTLSRequired:
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSMandatory))
	case StartTLSOpportunistic:
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.NoTLS))
	}
	if s.cfg.TLS != nil {
		opts = append(opts, gomail.WithTLSConfig(s.cfg.TLS))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return &SendError{Err: fmt.Errorf("SMTP client for %s: %w", s.cfg.Addr, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		if msg.IsDelivered() {
			// The relay took the mail (250 to its end of data); only the RSET or QUIT after it
			// failed. Retrying would mail the orderer again.
			return nil
		}
		return classify(err)
	}
	return nil
}

// classify turns go-mail's error into a SendError.
func classify(err error) *SendError {
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		permanent := code >= 500 && code < 600 && !se.IsTemp() &&
			(se.Reason == gomail.ErrSMTPRcptTo || se.Reason == gomail.ErrSMTPData || se.Reason == gomail.ErrSMTPDataClose)
		return &SendError{Permanent: permanent, Code: code, Err: err}
	}
	return &SendError{Err: err}
}

// message builds the MIME message: multipart/mixed of a multipart/alternative (plain, HTML) and
// the PDFs.
func (s *SMTP) message(m *Mail) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDateWithValue(m.Date)
	if err := msg.FromFormat(m.From.Name, m.From.Address); err != nil {
		return nil, fmt.Errorf("compose mail %s: from: %w", m.MessageID, err)
	}
	if err := msg.AddToFormat(m.To.Name, m.To.Address); err != nil {
		return nil, &SendError{Permanent: true, Err: fmt.Errorf("recipient %q: %w", m.To.Address, err)}
	}
	msg.Subject(m.Subject)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("X-Cardline-Order", m.OrderID)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	for _, a := range m.Attachments {
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType))); err != nil {
			return nil, fmt.Errorf("compose mail %s: attach %s: %w", m.MessageID, a.Name, err)
		}
	}
	return msg, nil
}
