package encoder

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// vpcd control messages (a one-byte payload): the reader powers the card off, on, resets it, or
// asks for its ATR. Only the ATR request is answered.
const (
	vpcdPowerOff = 0x00
	vpcdPowerOn  = 0x01
	vpcdReset    = 0x02
	vpcdGetATR   = 0x04
)

// VirtualReader puts virtual cards into one slot of a vpcd reader: the card connects to the
// driver's TCP port and answers its requests (2-byte big-endian length, then payload). Rule: at
// most one card is in the slot; Insert of a second card first removes the first. While a card is
// inserted and the connection drops (pcscd restarted), the card dials again, as a card left on the
// coupler is seen again by a restarted reader.
type VirtualReader struct {
	addr string
	log  *slog.Logger

	mu      sync.Mutex
	card    *VirtualCard
	conn    net.Conn
	stop    chan struct{}
	done    chan struct{}
	uidBase [3]byte
	next    uint32
}

// NewVirtualReader returns a reader slot whose cards connect to the vpcd driver at addr
// (host:port).
func NewVirtualReader(addr string, log *slog.Logger) *VirtualReader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &VirtualReader{addr: addr, log: log}
	_, _ = rand.Read(r.uidBase[:])
	return r
}

// Addr is the vpcd address the reader's cards connect to.
func (r *VirtualReader) Addr() string { return r.addr }

// NewUID returns a fresh 7-byte NXP-style UID, unique for this reader.
func (r *VirtualReader) NewUID() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	uid := []byte{0x04, r.uidBase[0], r.uidBase[1], r.uidBase[2], 0, 0, 0}
	uid[4], uid[5], uid[6] = byte(r.next>>16), byte(r.next>>8), byte(r.next)
	return uid
}

// InsertBlank puts a fresh blank card (new UID) with the given faults into the slot.
func (r *VirtualReader) InsertBlank(f Faults) *VirtualCard {
	c := NewBlankCard(r.NewUID(), f)
	r.Insert(c)
	return c
}

// Insert puts card into the slot (removing any card there). The reader sees it within its
// polling interval (pcscd polls vpcd every 400 ms).
func (r *VirtualReader) Insert(card *VirtualCard) {
	r.Remove()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.card = card
	r.stop = make(chan struct{})
	r.done = make(chan struct{})
	go r.serve(card, r.stop, r.done)
}

// Remove takes the card out of the slot, if any, and waits until it is gone.
func (r *VirtualReader) Remove() {
	r.mu.Lock()
	stop, done, conn := r.stop, r.done, r.conn
	r.card, r.stop, r.done, r.conn = nil, nil, nil, nil
	r.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	if conn != nil {
		_ = conn.Close()
	}
	<-done
}

// Card returns the card in the slot, or nil.
func (r *VirtualReader) Card() *VirtualCard {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.card
}

func (r *VirtualReader) serve(card *VirtualCard, stop, done chan struct{}) {
	defer close(done)
	for {
		conn, err := net.DialTimeout("tcp", r.addr, time.Second)
		if err == nil {
			r.mu.Lock()
			if r.stop != stop { // removed while dialling
				r.mu.Unlock()
				_ = conn.Close()
				return
			}
			r.conn = conn
			r.mu.Unlock()
			err = serveCard(conn, card)
			_ = conn.Close()
			if errors.Is(err, ErrTorn) {
				r.log.Debug("virtual card torn out of the field", "uid", fmt.Sprintf("% X", card.UID()))
				return
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(50 * time.Millisecond): // the reader went away: dial again
		}
	}
}

// serveCard answers vpcd requests for card on conn until the connection ends.
func serveCard(conn net.Conn, card *VirtualCard) error {
	var hdr [2]byte
	buf := make([]byte, 0, 512)
	for {
		quickAck(conn)
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		buf = buf[:n]
		quickAck(conn)
		if _, err := io.ReadFull(conn, buf); err != nil {
			return err
		}
		var resp []byte
		if n == 1 {
			switch buf[0] {
			case vpcdGetATR:
				resp = card.ATR()
			case vpcdPowerOff, vpcdReset, vpcdPowerOn:
				card.Reset()
				continue
			default:
				continue
			}
		} else {
			var err error
			if resp, err = card.Transmit(buf); err != nil {
				return err
			}
		}
		out := make([]byte, 2+len(resp))
		binary.BigEndian.PutUint16(out, uint16(len(resp)))
		copy(out[2:], resp)
		if _, err := conn.Write(out); err != nil {
			return err
		}
	}
}

// quickAck asks the kernel to acknowledge at once: vpcd writes length and payload in two writes
// without TCP_NODELAY, so a delayed ACK would cost about 40 ms per APDU.
func quickAck(conn net.Conn) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}

// PCSCD is a private pcscd with the vpcd driver, socket-activated on its own socket. Rule: clients
// reach it only if PCSCLITE_CSOCK_NAME names Socket before their first PC/SC call (the library
// reads it once per process); its two vpcd slots listen on VPCDPort and VPCDPort+1 on loopback.
type PCSCD struct {
	Dir      string
	Socket   string
	VPCDPort int
	log      *slog.Logger

	mu      sync.Mutex
	cmd     *exec.Cmd
	exit    chan struct{}
	stopped bool // by Stop: Supervise restarts no more
}

// Reader names of the two vpcd slots of a PCSCD.
const (
	VirtualReader0 = "Virtual PCD 00 00"
	VirtualReader1 = "Virtual PCD 00 01"
)

// StartPCSCD starts pcscd (found in PATH or /usr/sbin) in dir with a reader.conf that points the
// vpcd driver at port (0 picks a free one). The caller must set PCSCLITE_CSOCK_NAME to the
// returned Socket before any PC/SC call of the process.
func StartPCSCD(ctx context.Context, dir string, port int, log *slog.Logger) (*PCSCD, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if port == 0 {
		p, err := freePortPair()
		if err != nil {
			return nil, err
		}
		port = p
	}
	confDir := filepath.Join(dir, "reader.conf.d")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return nil, fmt.Errorf("start pcscd: %w", err)
	}
	conf := fmt.Sprintf("FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x%X\nLIBPATH      %s\nCHANNELID    0x%X\n",
		port, vpcdDriver(), port)
	if err := os.WriteFile(filepath.Join(confDir, "vpcd"), []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("start pcscd: %w", err)
	}
	d := &PCSCD{Dir: dir, Socket: filepath.Join(dir, "pcscd.comm"), VPCDPort: port, log: log}
	if err := d.Start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func vpcdDriver() string {
	for _, p := range []string{"/usr/lib/pcsc/drivers/serial/libifdvpcd.so", "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
}

// PCSCDPath finds the pcscd program.
func PCSCDPath() (string, error) {
	if p, err := exec.LookPath("pcscd"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/pcscd", "/sbin/pcscd"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("pcscd not found (Debian package pcscd)")
}

// errStopped refuses a supervisor's restart after Stop.
var errStopped = errors.New("start pcscd: stopped")

// Start (re)starts the daemon on the same socket and ports, as systemd would after a crash.
func (d *PCSCD) Start(ctx context.Context) error { return d.start(ctx, false) }

// start launches the daemon under d.mu and waits for it to be ready without the lock (the exit
// watcher needs it). A supervisor's restart (fromSupervisor) is refused once Stop has run, in the
// same critical section that would launch it, so that Stop and a restart cannot cross.
func (d *PCSCD) start(ctx context.Context, fromSupervisor bool) error {
	exit, err := d.launch(fromSupervisor)
	if err != nil {
		return err
	}
	// Ready when the vpcd driver listens.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.VPCDPort+1), 100*time.Millisecond)
		if err == nil {
			_ = c.Close() // slot 1 is only probed: pcscd drops the half-open card at its next poll
			return nil
		}
		select {
		case <-exit:
			return fmt.Errorf("start pcscd: exited at start (see %s)", filepath.Join(d.Dir, "pcscd.log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("start pcscd: vpcd port did not open within 10 s")
		}
	}
}

func (d *PCSCD) launch(fromSupervisor bool) (exit chan struct{}, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil {
		return nil, errors.New("start pcscd: already running")
	}
	if fromSupervisor && d.stopped {
		return nil, errStopped
	}
	d.stopped = false
	bin, err := PCSCDPath()
	if err != nil {
		return nil, err
	}
	_ = os.Remove(d.Socket)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: d.Socket, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("start pcscd: listen %s: %w", d.Socket, err)
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	_ = l.Close() // the daemon holds its own copy: when it dies, nobody listens and clients fail fast
	if err != nil {
		return nil, fmt.Errorf("start pcscd: %w", err)
	}
	defer f.Close()
	// systemd socket activation: the socket is fd 3, LISTEN_FDS=1 and LISTEN_PID the daemon's pid,
	// which only a shell that execs pcscd knows.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -f -c "$1"`, bin, filepath.Join(d.Dir, "reader.conf.d"))
	cmd.ExtraFiles = []*os.File{f}
	cmd.Env = append(os.Environ(), "PCSCLITE_CSOCK_NAME="+d.Socket)
	logf, err := os.OpenFile(filepath.Join(d.Dir, "pcscd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start pcscd: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start pcscd: %w", err)
	}
	exit = make(chan struct{})
	d.cmd, d.exit = cmd, exit
	go func() {
		err := cmd.Wait()
		logf.Close()
		d.log.Debug("pcscd exited", "err", err)
		d.mu.Lock()
		if d.cmd == cmd {
			d.cmd = nil
		}
		d.mu.Unlock()
		close(exit)
	}()
	return exit, nil
}

// Supervise restarts the daemon whenever it exits without Stop, as systemd restarts the system's
// pcscd after a crash, until ctx ends or Stop. Stations lose their reader for a moment and park;
// the operator clears them and they carry on, without a restart of the service. A failed restart
// is tried again every second.
func (d *PCSCD) Supervise(ctx context.Context) {
	for {
		d.mu.Lock()
		exit, stopped := d.exit, d.stopped
		d.mu.Unlock()
		if stopped {
			return
		}
		if exit != nil {
			select {
			case <-ctx.Done():
				return
			case <-exit:
			}
		}
		d.mu.Lock()
		stopped, running := d.stopped, d.cmd != nil
		d.mu.Unlock()
		if stopped {
			return
		}
		if running { // started again by someone else meanwhile
			continue
		}
		d.log.Warn("pcscd exited; restarting it")
		if err := d.start(ctx, true); errors.Is(err, errStopped) {
			return
		} else if err != nil {
			d.log.Error("restart pcscd", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// Stop ends the daemon (SIGTERM, then SIGKILL) and waits for it; Supervise restarts it no more.
func (d *PCSCD) Stop() error {
	d.mu.Lock()
	d.stopped = true
	cmd, exit := d.cmd, d.exit
	d.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exit:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exit
	}
	return nil
}

// Kill ends the daemon at once, as a crash would.
func (d *PCSCD) Kill() {
	d.mu.Lock()
	cmd, exit := d.cmd, d.exit
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exit
}

// VPCDAddr is the address of vpcd slot i (0 or 1).
func (d *PCSCD) VPCDAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", d.VPCDPort+i) }

// freePortPair finds a port p such that p and p+1 were both free a moment ago.
func freePortPair() (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find free port: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("find free port pair: none found")
}
