package printer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A virtual printer is CUPS's ippeveprinter (Debian cups-ipp-utils): a real IPP Everywhere
// server that the tests and the demo print to. It needs a D-Bus system bus even with DNS-SD off,
// so each virtual printer starts a private dbus-daemon; it runs a print command for each job,
// which here is a small shell script (written into the printer's directory) that keeps the
// document and the job's attributes, and plays the fault the test or the demo has set:
//
//	jam          STATE +media-jam-error, job aborted
//	ribbon-out   STATE +marker-supply-empty-error, ribbon level 0, job aborted
//	ribbon-low   STATE +marker-supply-low-warning, ribbon level 5, job completes
//	door-open    STATE +cover-open-error (ippeveprinter knows no door-open), job aborted
//	media-empty  STATE +media-empty-error,media-needed-error; the job waits until the fault is
//	             cleared (cards refilled), then completes
//
// Each job first clears the fault states a previous job set, so a fault set by one job is still
// reported until the next job starts, as a real printer's stays until someone clears it.
// ippeveprinter reports its state reasons with the suffix -report while idle and -warning while
// printing, whatever the script said; the fault kinds do not depend on it.

// VirtualPrinterOptions configure StartVirtualPrinter.
type VirtualPrinterOptions struct {
	Name      string    // DNS-SD service name, also in printer-info ["cardline virtual printer"]
	Port      int       // loopback port [a free one]
	MediaName string    // the one media keyword, loaded and supported [om_cr80_53.98x85.6mm]
	Media     MediaSize // its size [CR80]
	Simplex   bool      // report one-sided only (default: duplex, as card printers with a flipper)
	// Formats is document-format-supported [image/pwg-raster].
	Formats []string
	Logger  *slog.Logger
}

// Media presets for the virtual printers of the line.
const (
	CR80MediaName     = "om_cr80_53.98x85.6mm"
	Label4x6MediaName = "na_index-4x6_4x6in"
)

// A VirtualPrinter is a running ippeveprinter.
type VirtualPrinter struct {
	URI  string // ipp://localhost:PORT/ipp/print
	Dir  string // its spool, control files and the documents it received
	Port int

	log      *slog.Logger
	mu       sync.Mutex
	dbus     *exec.Cmd
	ipp      *exec.Cmd
	ippDone  chan struct{}
	stopOnce sync.Once
}

// StartVirtualPrinter starts ippeveprinter with its own D-Bus in dir (which must exist and be
// private to it) and waits until it answers IPP. Stop it with Stop; ctx bounds the start only.
func StartVirtualPrinter(ctx context.Context, dir string, opts VirtualPrinterOptions) (*VirtualPrinter, error) {
	if opts.Name == "" {
		opts.Name = "cardline virtual printer"
	}
	if opts.MediaName == "" {
		opts.MediaName, opts.Media = CR80MediaName, CR80
	}
	if opts.Media == (MediaSize{}) {
		s, ok := ParseMediaSize(opts.MediaName)
		if !ok {
			return nil, fmt.Errorf("start virtual printer: media %q names no size; set Media", opts.MediaName)
		}
		opts.Media = s
	}
	if len(opts.Formats) == 0 {
		opts.Formats = []string{"image/pwg-raster"}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ippeve, err := lookPath("ippeveprinter")
	if err != nil {
		return nil, fmt.Errorf("start virtual printer: %w (install cups-ipp-utils)", err)
	}
	dbusd, err := lookPath("dbus-daemon")
	if err != nil {
		return nil, fmt.Errorf("start virtual printer: %w (install dbus-daemon)", err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("start virtual printer: %w", err)
	}
	if len(dir) > 80 {
		// The bus socket path must fit in sockaddr_un (108 bytes).
		return nil, fmt.Errorf("start virtual printer: directory path %q too long for a socket", dir)
	}
	for _, d := range []string{"spool", "jobs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("start virtual printer: %w", err)
		}
	}
	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, fmt.Errorf("start virtual printer: %w", err)
		}
	}
	files := map[string]string{
		"dbus.conf":  dbusConfig(filepath.Join(dir, "bus")),
		"media.conf": mediaConfig(opts),
		"job.sh":     jobScript(dir),
	}
	for name, body := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), mode); err != nil {
			return nil, fmt.Errorf("start virtual printer: %w", err)
		}
	}
	v := &VirtualPrinter{URI: fmt.Sprintf("ipp://localhost:%d/ipp/print", port), Dir: dir, Port: port, log: opts.Logger, ippDone: make(chan struct{})}

	_ = os.Remove(filepath.Join(dir, "bus"))
	v.dbus = exec.Command(dbusd, "--nofork", "--nopidfile", "--config-file="+filepath.Join(dir, "dbus.conf"))
	v.dbus.Stdout, v.dbus.Stderr = logFile(dir, "dbus.log"), logFile(dir, "dbus.log")
	v.dbus.SysProcAttr = childProcAttr()
	if err := v.dbus.Start(); err != nil {
		return nil, fmt.Errorf("start virtual printer: dbus-daemon: %w", err)
	}
	if err := waitFor(ctx, func() bool { _, err := os.Stat(filepath.Join(dir, "bus")); return err == nil }); err != nil {
		v.Stop()
		return nil, fmt.Errorf("start virtual printer: dbus-daemon socket: %w", err)
	}

	args := []string{"-r", "off", "-n", "localhost", "-p", strconv.Itoa(port), "-a", filepath.Join(dir, "media.conf"),
		"-d", filepath.Join(dir, "spool"), "-c", filepath.Join(dir, "job.sh"), opts.Name}
	v.ipp = exec.Command(ippeve, args...)
	v.ipp.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+filepath.Join(dir, "bus"))
	v.ipp.Stdout, v.ipp.Stderr = logFile(dir, "ippeveprinter.log"), logFile(dir, "ippeveprinter.log")
	v.ipp.SysProcAttr = childProcAttr()
	if err := v.ipp.Start(); err != nil {
		v.Stop()
		return nil, fmt.Errorf("start virtual printer: ippeveprinter: %w", err)
	}
	go func() { _ = v.ipp.Wait(); close(v.ippDone) }()
	if err := waitFor(ctx, func() bool {
		select {
		case <-v.ippDone:
			return true
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}); err != nil {
		v.Stop()
		return nil, fmt.Errorf("start virtual printer on port %d: %w", port, err)
	}
	select {
	case <-v.ippDone:
		out, _ := os.ReadFile(filepath.Join(dir, "ippeveprinter.log"))
		v.Stop()
		return nil, fmt.Errorf("start virtual printer: ippeveprinter exited: %s", strings.TrimSpace(string(out)))
	default:
	}
	v.log.Info("virtual printer started", "uri", v.URI, "media", opts.MediaName, "dir", dir)
	return v, nil
}

// lookPath finds a program in PATH or in the sbin directories a non-root PATH may lack.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		if p, err := exec.LookPath(filepath.Join(d, name)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or /usr/sbin", name)
}

func logFile(dir, name string) *os.File {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil
	}
	return f
}

func waitFor(ctx context.Context, ok func() bool) error {
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			return errors.New("not ready after 15 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// SetFault makes the following jobs play a fault (see the package comment of this file); ""
// clears it, which also refills cards for a job waiting on media-empty.
func (v *VirtualPrinter) SetFault(fault string) error {
	switch fault {
	case "", "jam", "ribbon-out", "ribbon-low", "door-open", "media-empty":
	default:
		return fmt.Errorf("virtual printer: unknown fault %q", fault)
	}
	p := filepath.Join(v.Dir, "fault")
	if err := os.WriteFile(p+".tmp", []byte(fault+"\n"), 0o644); err != nil {
		return fmt.Errorf("virtual printer: set fault: %w", err)
	}
	return os.Rename(p+".tmp", p)
}

// ReceivedJob is one job as the virtual printer's print command saw it.
type ReceivedJob struct {
	Document   []byte            // the document, byte for byte as spooled
	Attributes map[string]string // IPP_* environment (IPP_MEDIA, IPP_SIDES, IPP_JOB_NAME, …) and CONTENT_TYPE
}

// Job returns the n-th job (1-based) the printer ran, in the order its print command ran them.
func (v *VirtualPrinter) Job(n int) (*ReceivedJob, error) {
	base := filepath.Join(v.Dir, "jobs", strconv.Itoa(n))
	doc, err := os.ReadFile(base + ".doc")
	if err != nil {
		return nil, fmt.Errorf("virtual printer job %d: %w", n, err)
	}
	env, err := os.ReadFile(base + ".env")
	if err != nil {
		return nil, fmt.Errorf("virtual printer job %d: %w", n, err)
	}
	j := &ReceivedJob{Document: doc, Attributes: map[string]string{}}
	for _, line := range strings.Split(string(env), "\n") {
		if k, val, ok := strings.Cut(line, "="); ok {
			j.Attributes[k] = val
		}
	}
	return j, nil
}

// Pause stops the ippeveprinter process (SIGSTOP): it keeps its socket, so connections are
// accepted and never answered, like a hung printer. Resume undoes it.
func (v *VirtualPrinter) Pause() error { return v.signal(syscall.SIGSTOP) }

// Resume continues a paused printer.
func (v *VirtualPrinter) Resume() error { return v.signal(syscall.SIGCONT) }

// Kill ends ippeveprinter at once, as a printer switched off mid-job; Stop still cleans up.
func (v *VirtualPrinter) Kill() error { return v.signal(syscall.SIGKILL) }

func (v *VirtualPrinter) signal(sig syscall.Signal) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ipp == nil || v.ipp.Process == nil {
		return errors.New("virtual printer not running")
	}
	// The process group holds the print command too.
	if err := syscall.Kill(-v.ipp.Process.Pid, sig); err != nil {
		return fmt.Errorf("virtual printer: signal %v: %w", sig, err)
	}
	return nil
}

// Stop ends ippeveprinter and its D-Bus and waits for them.
func (v *VirtualPrinter) Stop() {
	v.stopOnce.Do(func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.ipp != nil && v.ipp.Process != nil {
			_ = syscall.Kill(-v.ipp.Process.Pid, syscall.SIGCONT)
			_ = syscall.Kill(-v.ipp.Process.Pid, syscall.SIGTERM)
			select {
			case <-v.ippDone:
			case <-time.After(3 * time.Second):
				_ = syscall.Kill(-v.ipp.Process.Pid, syscall.SIGKILL)
				<-v.ippDone
			}
		}
		if v.dbus != nil && v.dbus.Process != nil {
			_ = syscall.Kill(-v.dbus.Process.Pid, syscall.SIGTERM)
			_ = v.dbus.Wait()
		}
	})
}

func dbusConfig(socket string) string {
	return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=` + socket + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`
}

// mediaConfig is the ippeveprinter attributes file: one media, borderless, 300 dpi sRGB raster,
// a ribbon marker, duplex unless simplex.
func mediaConfig(o VirtualPrinterOptions) string {
	x, y := int(o.Media.W*100+0.5), int(o.Media.H*100+0.5)
	if x > y {
		x, y = y, x
	}
	col := fmt.Sprintf(`{
  MEMBER collection media-size { MEMBER integer x-dimension %d MEMBER integer y-dimension %d }
  MEMBER keyword media-size-name %s
  MEMBER integer media-bottom-margin 0
  MEMBER integer media-left-margin 0
  MEMBER integer media-right-margin 0
  MEMBER integer media-top-margin 0
}`, x, y, o.MediaName)
	sides := "one-sided,two-sided-long-edge,two-sided-short-edge"
	if o.Simplex {
		sides = "one-sided"
	}
	return fmt.Sprintf(`# written by cardline: a %s printer
ATTR keyword media-supported %[2]s
ATTR keyword media-ready %[2]s
ATTR keyword media-default %[2]s
ATTR collection media-col-default %[3]s
ATTR collection media-col-ready %[3]s
ATTR collection media-col-database %[3]s
ATTR collection media-size-supported { MEMBER integer x-dimension %[4]d MEMBER integer y-dimension %[5]d }
ATTR integer media-bottom-margin-supported 0
ATTR integer media-left-margin-supported 0
ATTR integer media-right-margin-supported 0
ATTR integer media-top-margin-supported 0
ATTR keyword sides-supported %[6]s
ATTR keyword sides-default one-sided
ATTR mimeMediaType document-format-supported %[7]s
ATTR keyword pwg-raster-document-type-supported srgb_8
ATTR keyword pwg-raster-document-sheet-back normal
ATTR resolution pwg-raster-document-resolution-supported 300dpi
ATTR resolution printer-resolution-supported 300dpi
ATTR resolution printer-resolution-default 300dpi
ATTR keyword print-color-mode-supported color
ATTR keyword print-color-mode-default color
ATTR boolean color-supported true
ATTR name marker-names "YMCKO ribbon"
ATTR keyword marker-types ink-ribbon
ATTR name marker-colors "#00FFFF#FF00FF#FFFF00#000000"
ATTR integer marker-levels 80
ATTR integer marker-low-levels 10
ATTR integer marker-high-levels 100
`, o.Name, o.MediaName, col, x, y, sides, strings.Join(o.Formats, ","))
}

// jobScript is the print command. It must be quick: ippeveprinter runs one job at a time.
func jobScript(dir string) string {
	return `#!/bin/sh
# cardline virtual printer: keep the job, then play the fault in ` + dir + `/fault.
d='` + dir + `'
n=$(ls "$d/jobs" | grep -c '\.env$')
n=$((n + 1))
cp "$1" "$d/jobs/$n.doc"
env | grep -E '^(IPP_|CONTENT_TYPE=)' | sort > "$d/jobs/$n.env.tmp" && mv "$d/jobs/$n.env.tmp" "$d/jobs/$n.env"
echo "STATE: -media-jam-error,marker-supply-empty-error,marker-supply-low-warning,cover-open-error,media-empty-error,media-needed-error" >&2
fault=$(cat "$d/fault" 2>/dev/null)
case "$fault" in
jam)
	echo "STATE: +media-jam-error" >&2
	echo "ERROR: Card jammed between the hopper and the print head" >&2
	exit 1 ;;
ribbon-out)
	echo "ATTR: marker-levels=0" >&2
	echo "STATE: +marker-supply-empty-error" >&2
	echo "ERROR: Ribbon is used up" >&2
	exit 1 ;;
ribbon-low)
	echo "ATTR: marker-levels=5" >&2
	echo "STATE: +marker-supply-low-warning" >&2 ;;
door-open)
	echo "STATE: +cover-open-error" >&2
	echo "ERROR: Printer cover is open" >&2
	exit 1 ;;
media-empty)
	echo "STATE: +media-empty-error,media-needed-error" >&2
	echo "INFO: Waiting for blank cards" >&2
	while [ "$(cat "$d/fault" 2>/dev/null)" = media-empty ]; do sleep 0.05; done
	echo "STATE: -media-empty-error,media-needed-error" >&2 ;;
esac
echo "INFO: Printed" >&2
exit 0
`
}
