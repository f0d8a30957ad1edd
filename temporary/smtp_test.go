package temporary

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cardline/internal/testsupport"
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
