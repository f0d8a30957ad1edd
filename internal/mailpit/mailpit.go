// Package mailpit starts Mailpit, a real SMTP server with an HTTP API, for the demo and (through
// testsupport) the tests, and reads back what it received. The binary is built from the tools
// module (tools/go.mod) into tools/bin/mailpit by `make tools`; PATH is searched too.
//
// The server is our direct child with a parent-death signal, so a killed test binary or demo does
// not leave it behind. Its database lives in a directory of its own, removed on Stop.
package mailpit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Options tune a server.
type Options struct {
	// Bin is the mailpit executable; empty finds it with Find.
	Bin string
	// Args are extra flags (e.g. --smtp-allowed-recipients, --smtp-tls-cert, --smtp-auth-file).
	Args []string
	// Log receives the server's output; nil discards it (it is also kept in the server directory).
	Log io.Writer
}

// Find returns the mailpit executable: tools/bin/mailpit in the module root (searched upward from
// the working directory, so tests in any package find it), else mailpit in PATH.
func Find() (string, error) {
	if dir, err := os.Getwd(); err == nil {
		for {
			p := filepath.Join(dir, "tools", "bin", "mailpit")
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, nil
			}
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break // the module root: go no further
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	return "", errors.New("find mailpit: not in tools/bin nor PATH (run `make tools`)")
}

// Server is a running Mailpit.
type Server struct {
	// SMTPAddr is host:port of its SMTP server.
	SMTPAddr string
	// URL is the base of its HTTP API (and web UI).
	URL  string
	Dir  string
	cmd  *exec.Cmd
	done chan error
	http *http.Client
}

// Start starts Mailpit on two free loopback ports and waits until it is ready.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin := opts.Bin
	if bin == "" {
		var err error
		if bin, err = Find(); err != nil {
			return nil, err
		}
	}
	smtpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cardline-mailpit-")
	if err != nil {
		return nil, fmt.Errorf("start mailpit: %w", err)
	}
	s := &Server{
		SMTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(smtpPort)),
		URL:      "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
		Dir:      dir,
		done:     make(chan error, 1),
		http:     &http.Client{Timeout: 30 * time.Second},
	}
	args := append([]string{"--smtp", s.SMTPAddr, "--listen", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--database", filepath.Join(dir, "mailpit.db"), "--disable-version-check", "--smtp-disable-rdns",
		"--max", "0", "--quiet"}, opts.Args...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	logFile, err := os.Create(filepath.Join(dir, "mailpit.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start mailpit: %w", err)
	}
	var out io.Writer = logFile
	if opts.Log != nil {
		out = io.MultiWriter(logFile, opts.Log)
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start mailpit: %w", err)
	}
	go func() { s.done <- s.cmd.Wait(); logFile.Close() }()
	if err := s.waitReady(ctx); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "mailpit.log"))
		s.Stop()
		return nil, fmt.Errorf("start mailpit: %w; its log: %s", err, bytes.TrimSpace(log))
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		if resp, err := s.http.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if c, err := net.DialTimeout("tcp", s.SMTPAddr, time.Second); err == nil {
					c.Close()
					return nil
				}
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("mailpit exited: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Stop ends the server and removes its directory.
func (s *Server) Stop() error {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	return os.RemoveAll(s.Dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Address is a mail address as the API gives it.
type Address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Summary is one message in the list.
type Summary struct {
	ID          string    `json:"ID"`
	MessageID   string    `json:"MessageID"`
	From        Address   `json:"From"`
	To          []Address `json:"To"`
	Subject     string    `json:"Subject"`
	Created     time.Time `json:"Created"`
	Size        int       `json:"Size"`
	Attachments int       `json:"Attachments"`
}

// Attachment is one attached part of a message.
type Attachment struct {
	PartID      string `json:"PartID"`
	FileName    string `json:"FileName"`
	ContentType string `json:"ContentType"`
	Size        int    `json:"Size"`
}

// Message is one message in full, as parsed by Mailpit.
type Message struct {
	ID          string       `json:"ID"`
	MessageID   string       `json:"MessageID"`
	From        Address      `json:"From"`
	To          []Address    `json:"To"`
	Subject     string       `json:"Subject"`
	Date        time.Time    `json:"Date"`
	Text        string       `json:"Text"`
	HTML        string       `json:"HTML"`
	Attachments []Attachment `json:"Attachments"`
}

// Messages lists every message received, newest first.
func (s *Server) Messages(ctx context.Context) ([]Summary, error) {
	var out struct {
		Messages []Summary `json:"messages"`
	}
	if err := s.getJSON(ctx, "/api/v1/messages?limit=1000", &out); err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// Message reads one message.
func (s *Server) Message(ctx context.Context, id string) (*Message, error) {
	var m Message
	if err := s.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Headers reads the headers of one message.
func (s *Server) Headers(ctx context.Context, id string) (map[string][]string, error) {
	h := map[string][]string{}
	if err := s.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id)+"/headers", &h); err != nil {
		return nil, err
	}
	return h, nil
}

// Part reads the decoded bytes of one part (an attachment) of a message.
func (s *Server) Part(ctx context.Context, id, partID string) ([]byte, error) {
	return s.get(ctx, "/api/v1/message/"+url.PathEscape(id)+"/part/"+url.PathEscape(partID))
}

// DeleteAll removes every message.
func (s *Server) DeleteAll(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.URL+"/api/v1/messages", nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit: delete messages: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit: delete messages: %s", resp.Status)
	}
	return nil
}

func (s *Server) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mailpit: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("mailpit: GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mailpit: GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

func (s *Server) getJSON(ctx context.Context, path string, v any) error {
	b, err := s.get(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("mailpit: GET %s: decode: %w", path, err)
	}
	return nil
}

// SetRecipientChaos makes Mailpit answer RCPT TO with code (e.g. 451) with the given probability
// in percent (0 turns it off). The server must run with --enable-chaos.
func (s *Server) SetRecipientChaos(ctx context.Context, code, percent int) error {
	type trigger struct{ ErrorCode, Probability int }
	body, _ := json.Marshal(map[string]trigger{"Recipient": {code, percent}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.URL+"/api/v1/chaos", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit: set chaos: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("mailpit: set chaos: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return nil
}
