package temporary

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cardline/internal/testsupport"
	"cardline/production"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns the pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

// TestSMTPSecurity sends through a relay that demands STARTTLS and authentication, and checks that
// each misconfiguration fails as a temporary error (fix the configuration and the mail goes), never
// as a mail sent in clear.
func TestSMTPSecurity(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, roots := selfSigned(t, dir)
	authFile := filepath.Join(dir, "auth")
	os.WriteFile(authFile, []byte("kari:hemmelig\n"), 0o600)
	secure := testsupport.Mailpit(t, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls", "--smtp-auth-file", authFile)
	plain := testsupport.Mailpit(t)

	c := sampleCard(t)
	pdf, err := RenderPDF(c)
	if err != nil {
		t.Fatal(err)
	}
	o := Order{ID: c.OrderID, OrdererName: "Kari Nordmann", OrdererEmail: "kari@bygg.example", CompanyName: c.OrgName, OrgNumber: c.OrgNumber}
	trusted := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}

	for _, tc := range []struct {
		name    string
		cfg     SMTPConfig
		wantErr string // "" for delivered
	}{
		{"starttls and auth", SMTPConfig{Addr: secure.SMTPAddr, StartTLS: StartTLSRequired, TLS: trusted, Username: "kari", Password: "hemmelig"}, ""},
		{"wrong password", SMTPConfig{Addr: secure.SMTPAddr, StartTLS: StartTLSRequired, TLS: trusted, Username: "kari", Password: "feil"}, "auth"},
		{"untrusted certificate", SMTPConfig{Addr: secure.SMTPAddr, StartTLS: StartTLSRequired, Username: "kari", Password: "hemmelig"}, "certificate"},
		{"relay without STARTTLS", SMTPConfig{Addr: plain.SMTPAddr, StartTLS: StartTLSRequired}, "STARTTLS"},
		{"opportunistic to a relay without STARTTLS", SMTPConfig{Addr: plain.SMTPAddr, StartTLS: StartTLSOpportunistic}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Timeout = 10 * time.Second
			s, err := NewSMTP(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			id := "smtp-test." + strings.ReplaceAll(tc.name, " ", "-") + "@cardline.example"
			m := Compose(mail.Address{Address: "hms-kort@cardline.example"}, id, o, []*Card{c}, [][]byte{pdf}, false, time.Now())
			err = s.Send(context.Background(), m)
			mp := secure
			if tc.cfg.Addr == plain.SMTPAddr {
				mp = plain
			}
			list, lerr := mp.Messages(context.Background())
			if lerr != nil {
				t.Fatal(lerr)
			}
			delivered := false
			for _, l := range list {
				delivered = delivered || l.MessageID == id
			}
			if tc.wantErr == "" {
				if err != nil || !delivered {
					t.Fatalf("not delivered: %v", err)
				}
				return
			}
			var se *SendError
			t.Log(err)
			if err == nil || !errors.As(err, &se) || se.Permanent || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.wantErr)) {
				t.Errorf("error %v, want a temporary error about %s", err, tc.wantErr)
			}
			if delivered {
				t.Error("delivered anyway")
			}
		})
	}
}

func TestParseStartTLS(t *testing.T) {
	for _, s := range []string{"required", "opportunistic", "off"} {
		if p, err := ParseStartTLS(s); err != nil || string(p) != s {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseStartTLS("yes"); err == nil {
		t.Error("accepted yes")
	}
}

// cutAfterData relays SMTP between a client and the relay at addr, and cuts the connection when
// the client says anything after a mail's end of data (the RSET or QUIT after an accepted mail),
// as a relay that drops the line then does. It returns the address to dial.
func cutAfterData(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer client.Close()
				relay, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer relay.Close()
				go io.Copy(client, relay)
				r := bufio.NewReader(client)
				dataDone := false
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if dataDone {
						return // the mail is in; the line drops
					}
					if _, err := relay.Write([]byte(line)); err != nil {
						return
					}
					dataDone = line == ".\r\n"
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A relay that accepts a mail and then drops the line (before the RSET or QUIT that follow it):
// the mail counts as sent, for sending it again would mail the orderer twice.
func TestSMTPLineDroppedAfterAcceptance(t *testing.T) {
	mp := testsupport.Mailpit(t)
	s, err := NewSMTP(SMTPConfig{Addr: cutAfterData(t, mp.SMTPAddr), StartTLS: StartTLSOff, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := sampleCard(t)
	pdf, err := RenderPDF(c)
	if err != nil {
		t.Fatal(err)
	}
	o := Order{ID: c.OrderID, OrdererName: "Kari Nordmann", OrdererEmail: "kari@bygg.example", CompanyName: c.OrgName, OrgNumber: c.OrgNumber}
	const id = "dropped-after-data@cardline.example"
	if err := s.Send(context.Background(), Compose(mail.Address{Address: "hms-kort@cardline.example"}, id, o, []*Card{c}, [][]byte{pdf}, false, time.Now())); err != nil {
		t.Errorf("a mail the relay accepted failed: %v", err)
	}
	list, err := mp.Messages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range list {
		if l.MessageID == id {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the relay holds %d copies of the mail, want 1 (the proxy lets the mail through before it cuts)", n)
	}
}

// A mailer's lease must outlast one SMTP conversation, or a slow but live attempt is claimed and
// sent again by another worker.
func TestLeaseOutlastsSMTPTimeout(t *testing.T) {
	if _, err := NewSMTP(SMTPConfig{Addr: "127.0.0.1:25", Timeout: -time.Second}); err == nil {
		t.Error("a negative SMTP time-out was accepted")
	}
	s, err := NewSMTP(SMTPConfig{Addr: "127.0.0.1:25"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Timeout() != time.Minute {
		t.Fatalf("default SMTP time-out %s, want 1m", s.Timeout())
	}
	cfg := Config{From: mail.Address{Address: "hms-kort@cardline.example"}, StatusBaseURL: testStatusBase, SigningKey: testKey}
	for lease, ok := range map[time.Duration]bool{time.Minute: false, -time.Minute: false, 3 * time.Minute: true} {
		cfg.Lease = lease
		_, err := NewMailer(cfg, nil, production.NewStore(nil), s, slog.New(slog.DiscardHandler))
		if (err == nil) != ok {
			t.Errorf("lease %s with a 1m SMTP time-out: %v", lease, err)
		}
	}
}
