package testsupport

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// CUPSQueue starts a private cupsd (Debian cups-daemon) on a free loopback port, adds a queue
// named name for the IPP Everywhere printer at printerURI (lpadmin -m everywhere, which reads the
// printer's attributes; error policy abort-job, as a station wants), and returns the queue's
// URI, ipp://127.0.0.1:PORT/printers/NAME. cupsd is stopped when the test ends.
func CUPSQueue(t testing.TB, printerURI, name string) string {
	t.Helper()
	cupsd := Need(t, "cupsd", "/usr/sbin")
	lpadmin := Need(t, "lpadmin", "/usr/sbin")
	dir, err := os.MkdirTemp("", "cups")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"spool", "cache", "state", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`Listen 127.0.0.1:%d
LogLevel info
Browsing Off
WebInterface No
DefaultAuthType None
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
    Allow all
  </Limit>
</Policy>
`, port)
	files := fmt.Sprintf(`ServerRoot %[1]s
RequestRoot %[1]s/spool
CacheDir %[1]s/cache
StateDir %[1]s/state
TempDir %[1]s/tmp
AccessLog %[1]s/access_log
ErrorLog %[1]s/error_log
PageLog %[1]s/page_log
Sandboxing Relaxed
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "cupsd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cups-files.conf"), []byte(files), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cupsd, "-f", "-c", filepath.Join(dir, "cupsd.conf"), "-s", filepath.Join(dir, "cups-files.conf"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start cupsd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	host := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", host, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "error_log"))
			t.Fatalf("cupsd exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cupsd not listening on %s after 15 s", host)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, args := range [][]string{
		{"-h", host, "-p", name, "-E", "-v", printerURI, "-m", "everywhere"},
		{"-h", host, "-p", name, "-o", "printer-error-policy=abort-job"},
	} {
		if out, err := exec.CommandContext(ctx, lpadmin, args...).CombinedOutput(); err != nil {
			t.Fatalf("lpadmin %q: %v: %s", args, err, out)
		}
	}
	// cupsd makes the everywhere PPD from the printer's attributes in the background; until then
	// the queue is raw and reports no media.
	for ppd := filepath.Join(dir, "ppd", name+".ppd"); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(ppd); err == nil {
			break
		}
		if ctx.Err() != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "error_log"))
			t.Fatalf("cupsd made no PPD for %s: %s", printerURI, log)
		}
	}
	return fmt.Sprintf("ipp://%s/printers/%s", host, name)
}
