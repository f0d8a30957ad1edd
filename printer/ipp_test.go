package printer_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cardline/internal/testsupport"
	"cardline/printer"

	"github.com/OpenPrinting/goipp"
)

func newClient(t *testing.T, v *printer.VirtualPrinter, timeout time.Duration) *printer.Client {
	t.Helper()
	c, err := printer.NewClient(v.URI, printer.ClientOptions{RequestTimeout: timeout, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func renderSample(t testing.TB) printer.CardJob {
	t.Helper()
	r, err := printer.NewRenderer(printer.Options{StatusBaseURL: "https://status.hms.example/k", SigningKey: ed25519.NewKeyFromSeed(make([]byte, 32))})
	if err != nil {
		t.Fatal(err)
	}
	f := printer.SampleFace(printer.Construction)
	front, back, err := r.Render(f)
	if err != nil {
		t.Fatal(err)
	}
	return printer.CardJob{CardNumber: f.CardNumber, Front: front, Back: back}
}

// TestPrintCardArrivesByteForByte prints a card on ippeveprinter and checks what the printer got:
// the exact document, the job name, the CR80 media chosen from what the printer reported, duplex,
// and the magnetic tracks as a job attribute.
func TestPrintCardArrivesByteForByte(t *testing.T) {
	v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{})
	c := newClient(t, v, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "idle" || len(st.Faults) != 0 || len(st.Markers) != 1 || st.Markers[0].Level != 80 {
		t.Fatalf("fresh printer: state %s faults %v markers %+v", st.State, st.Faults, st.Markers)
	}
	job := renderSample(t)
	job.Tracks = []string{"%B1000000017^HMS^2811?", ";923609016=1000000017?"}
	want, err := printer.CardDocument(st, job)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.PrintCard(ctx, job, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "completed" || res.Media != printer.CR80MediaName || res.Sides != "two-sided-short-edge" {
		t.Errorf("result %+v", res)
	}
	got, err := v.Job(1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Document, want.Data) {
		t.Errorf("spooled document differs: %d bytes, sent %d", len(got.Document), len(want.Data))
	}
	for k, w := range map[string]string{
		"IPP_JOB_NAME": job.CardNumber,
		"IPP_MEDIA":    printer.CR80MediaName,
		"IPP_SIDES":    "two-sided-short-edge",
		"CONTENT_TYPE": "image/pwg-raster",
	} {
		if got.Attributes[k] != w {
			t.Errorf("%s = %q, want %q (all: %v)", k, got.Attributes[k], w, got.Attributes)
		}
	}
	t.Logf("job attributes: %v", got.Attributes)
}

// TestPrintFaults plays every fault class on the virtual printer.
func TestPrintFaults(t *testing.T) {
	v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{})
	c := newClient(t, v, 5*time.Second)
	job := renderSample(t)
	for _, tc := range []struct {
		fault    string
		kind     printer.FaultKind
		complete bool
		message  string
	}{
		{"jam", printer.FaultMediaJam, false, "Card jammed between the hopper and the print head"},
		{"ribbon-out", printer.FaultRibbonEmpty, false, "Ribbon is used up"},
		{"door-open", printer.FaultDoorOpen, false, "Printer cover is open"},
		{"ribbon-low", printer.FaultRibbonLow, true, ""},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := v.SetFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			res, err := c.PrintCard(ctx, job, nil)
			var je *printer.JobError
			if tc.complete {
				if err != nil {
					t.Fatalf("job failed: %v", err)
				}
			} else if !errors.As(err, &je) {
				t.Fatalf("err = %v, want a JobError", err)
			} else if res.State != "aborted" || res.Message != tc.message {
				t.Errorf("job %s, message %q; want aborted, %q", res.State, res.Message, tc.message)
			}
			if !hasFault(res.Faults, tc.kind) {
				t.Errorf("faults %v, want one of kind %s", res.Faults, tc.kind)
			}
			if tc.fault == "ribbon-low" {
				st, err := c.Status(ctx)
				if err != nil || len(st.Markers) != 1 || st.Markers[0].Level != 5 || st.Markers[0].Type != "ink-ribbon" {
					t.Errorf("after ribbon-low the ribbon should be at 5 %%: %+v, %v", st, err)
				}
			}
			t.Logf("%v", err)
		})
	}
	// Cleared: the next job clears the printer's fault states (it may still see the last one
	// before it starts), and the one after it sees none.
	if err := v.SetFault(""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 2 {
		res, err := c.PrintCard(ctx, job, nil)
		if err != nil || (i == 1 && len(res.Faults) != 0) {
			t.Fatalf("job %d after clearing: %+v, %v", i+1, res, err)
		}
	}
}

// TestMediaEmptyUntilRefilled: the job waits while the hopper is empty, the operator hears about
// it, refills, and the job completes.
func TestMediaEmptyUntilRefilled(t *testing.T) {
	v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{})
	c := newClient(t, v, 5*time.Second)
	if err := v.SetFault("media-empty"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var heard []printer.Fault
	res, err := c.PrintCard(ctx, renderSample(t), func(f printer.Fault) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, f)
		if f.Kind == printer.FaultMediaEmpty && len(heard) == 1 {
			go v.SetFault("") // the operator refills the hopper
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if res.State != "completed" || !hasFault(heard, printer.FaultMediaEmpty) {
		t.Fatalf("state %s, heard %v", res.State, heard)
	}
}

// TestPrinterGoneMidJob: a printer that hangs (accepts, never answers) or dies while a job waits
// is reported offline within the request timeout, not waited on forever.
func TestPrinterGoneMidJob(t *testing.T) {
	for _, how := range []string{"stopped", "killed"} {
		t.Run(how, func(t *testing.T) {
			v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{})
			c := newClient(t, v, 700*time.Millisecond)
			if err := v.SetFault("media-empty"); err != nil { // the job waits at the printer
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := c.PrintCard(ctx, renderSample(t), func(f printer.Fault) {
				if f.Kind != printer.FaultMediaEmpty {
					return
				}
				if how == "stopped" {
					v.Pause()
				} else {
					v.Kill()
				}
			})
			if !errors.Is(err, printer.ErrOffline) {
				t.Fatalf("err = %v, want ErrOffline", err)
			}
			if !hasFault(res.Faults, printer.FaultOffline) {
				t.Errorf("faults %v, want offline", res.Faults)
			}
			if ctx.Err() != nil {
				t.Errorf("gave up only at the test's deadline")
			}
			v.Resume()
		})
	}
}

// TestBusyPrinterIsRetried: ippeveprinter takes one job at a time and answers server-error-busy
// to a second Print-Job; the client waits and sends it again.
func TestBusyPrinterIsRetried(t *testing.T) {
	v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{})
	var logs syncBuffer
	c, err := printer.NewClient(v.URI, printer.ClientOptions{RequestTimeout: 5 * time.Second, PollInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.SetFault("media-empty"); err != nil { // the first job holds the printer
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	job := renderSample(t)
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := c.PrintCard(ctx, job, nil); errs <- err }()
	}
	for !strings.Contains(logs.String(), "printer busy") {
		if ctx.Err() != nil {
			t.Fatalf("no server-error-busy seen; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := v.SetFault(""); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if _, err := v.Job(2); err != nil {
		t.Errorf("second job never reached the printer: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func hasFault(fs []printer.Fault, k printer.FaultKind) bool {
	for _, f := range fs {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// TestPrintThroughCUPSQueue prints the same card through a CUPS queue (lpadmin -m everywhere) in
// front of the virtual printer: the client picks CR80 from the names CUPS makes up, CUPS passes
// the PWG Raster through untouched, and a jam comes back as an aborted job.
func TestPrintThroughCUPSQueue(t *testing.T) {
	v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{})
	queue := testsupport.CUPSQueue(t, v.URI, "cards")
	c, err := printer.NewClient(queue, printer.ClientOptions{RequestTimeout: 5 * time.Second, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CUPS queue: %+v", st)
	job := renderSample(t)
	want, err := printer.CardDocument(st, job)
	if err != nil {
		t.Fatalf("card document for CUPS (media %q): %v", st.MediaSupported, err)
	}
	res, err := c.PrintCard(ctx, job, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "completed" || res.Sides != "two-sided-short-edge" {
		t.Errorf("result %+v", res)
	}
	got, err := v.Job(1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Document, want.Data) {
		t.Errorf("document changed on its way through CUPS: %d bytes, sent %d", len(got.Document), len(want.Data))
	}
	if got.Attributes["IPP_JOB_NAME"] != job.CardNumber || got.Attributes["IPP_SIDES"] != "two-sided-short-edge" ||
		!strings.Contains(got.Attributes["IPP_MEDIA_COL"], "x-dimension=5398 y-dimension=8560") {
		t.Errorf("job attributes at the printer: %v", got.Attributes)
	}

	if err := v.SetFault("jam"); err != nil {
		t.Fatal(err)
	}
	res, err = c.PrintCard(ctx, job, nil)
	var je *printer.JobError
	if !errors.As(err, &je) || res.State == "completed" {
		t.Fatalf("jam through CUPS: %+v, %v", res, err)
	}
	t.Logf("jam through CUPS: %v", err)
}

// TestVirtualLabelPrinter: the same harness makes the 4×6 inch label printer that shipping prints
// PDFs on, one-sided; the client finds its media by size and prints a document as it is.
func TestVirtualLabelPrinter(t *testing.T) {
	v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{Name: "labels", MediaName: printer.Label4x6MediaName,
		Simplex: true, Formats: []string{"application/pdf"}})
	c := newClient(t, v, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	media, err := printer.ChooseMedia(printer.Label4x6, st.MediaReady, st.MediaSupported)
	if err != nil || media != printer.Label4x6MediaName || !slices.Equal(st.Sides, []string{"one-sided"}) || !slices.Contains(st.DocumentFormats, "application/pdf") {
		t.Fatalf("label printer: media %q (%v), status %+v", media, err, st)
	}
	if _, err := printer.CardDocument(st, renderSample(t)); err == nil {
		t.Error("a card document was made for a 4×6 label printer")
	}
	pdf := []byte("%PDF-1.4\n% a label\n%%EOF\n")
	res, err := c.Print(ctx, printer.Document{Name: "parcel-1", Format: "application/pdf", Data: pdf, Media: media, Sides: "one-sided"}, nil)
	if err != nil || res.State != "completed" {
		t.Fatalf("print label: %+v, %v", res, err)
	}
	if j, err := v.Job(1); err != nil || !bytes.Equal(j.Document, pdf) || j.Attributes["IPP_MEDIA"] != printer.Label4x6MediaName {
		t.Fatalf("label on the printer: %+v, %v", j, err)
	}
}

// TestAbandonedJobIsCanceled: a job the station gives up on (here: it waited too long for cards)
// is canceled at the printer, so it cannot print later on a card that went to the reject tray.
func TestAbandonedJobIsCanceled(t *testing.T) {
	v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{})
	c := newClient(t, v, 5*time.Second)
	if err := v.SetFault("media-empty"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := c.PrintCard(ctx, renderSample(t), nil)
	if !errors.Is(err, context.DeadlineExceeded) || res == nil || res.JobID == 0 {
		t.Fatalf("PrintCard = %+v, %v; want the deadline", res, err)
	}
	if err := v.SetFault(""); err != nil { // cards arrive after all
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	time.Sleep(200 * time.Millisecond)
	st, err := c.JobState(ctx2, res.JobID)
	if err != nil || st.State != "canceled" {
		t.Fatalf("job %d after giving up: %+v, %v; want canceled", res.JobID, st, err)
	}
	// Found again by its name (the card number), as recovery finds a job whose id went unrecorded.
	job := renderSample(t)
	jobs, err := c.JobsNamed(ctx2, job.CardNumber)
	if err != nil || len(jobs) != 1 || jobs[0].JobID != res.JobID || jobs[0].State != "canceled" {
		t.Errorf("jobs named %s: %+v, %v; want job %d canceled", job.CardNumber, jobs, err, res.JobID)
	}
	if jobs, err := c.JobsNamed(ctx2, "1000000016"); err != nil || len(jobs) != 0 {
		t.Errorf("jobs named by another card: %+v, %v", jobs, err)
	}
}

// A printer (or a CUPS in front of it) that answers one poll of a running job with HTTP 503:
// the client asks again and the card is printed; it does not cancel the job.
func TestOneBadAnswerDoesNotCancelTheJob(t *testing.T) {
	v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{})
	target, err := url.Parse(strings.Replace(v.URI, "ipp://", "http://", 1))
	if err != nil {
		t.Fatal(err)
	}
	var polls, cancels atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target.Host})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if len(body) >= 4 {
			switch binary.BigEndian.Uint16(body[2:4]) {
			case uint16(goipp.OpGetJobAttributes):
				if polls.Add(1) == 2 {
					http.Error(w, "busy", http.StatusServiceUnavailable)
					return
				}
			case uint16(goipp.OpCancelJob):
				cancels.Add(1)
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	c, err := printer.NewClient("ipp://"+strings.TrimPrefix(front.URL, "http://")+target.Path,
		printer.ClientOptions{RequestTimeout: 5 * time.Second, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.PrintCard(ctx, renderSample(t), nil)
	if err != nil || res.State != "completed" {
		t.Fatalf("job %+v: %v", res, err)
	}
	if polls.Load() < 2 || cancels.Load() != 0 {
		t.Errorf("%d polls (the second answered 503), %d cancels; want the job watched on and never cancelled", polls.Load(), cancels.Load())
	}
}

// A printer that takes the job but ignores the magnetic tracks (IPP's
// successful-ok-ignored-or-substituted-attributes, the attribute in the unsupported group) would
// make a card with a blank stripe: the job is cancelled and the error says why.
func TestIgnoredTracksStopTheJob(t *testing.T) {
	v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{})
	target, err := url.Parse(strings.Replace(v.URI, "ipp://", "http://", 1))
	if err != nil {
		t.Fatal(err)
	}
	var cancels atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target.Host})
	proxy.ModifyResponse = func(resp *http.Response) error {
		var m goipp.Message
		body, _ := io.ReadAll(resp.Body)
		if m.DecodeBytes(body) == nil && resp.Request.Header.Get("X-Op") == "print-job" {
			m.Code = goipp.Code(goipp.StatusOkIgnoredOrSubstituted)
			m.Groups = append(m.Groups, goipp.Group{Tag: goipp.TagUnsupportedGroup,
				Attrs: goipp.Attributes{goipp.MakeAttribute(printer.TracksAttribute, goipp.TagUnsupportedValue, goipp.Void{})}})
			body, _ = m.EncodeBytes()
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
		return nil
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if len(body) >= 4 {
			switch binary.BigEndian.Uint16(body[2:4]) {
			case uint16(goipp.OpPrintJob):
				r.Header.Set("X-Op", "print-job")
			case uint16(goipp.OpCancelJob):
				cancels.Add(1)
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	c, err := printer.NewClient("ipp://"+strings.TrimPrefix(front.URL, "http://")+target.Path,
		printer.ClientOptions{RequestTimeout: 5 * time.Second, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	job := renderSample(t)
	job.Tracks = []string{"%B1000000017^NORDMANN/KARI^2811?", ";1000000017=2811?"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = c.PrintCard(ctx, job, nil)
	if !errors.Is(err, printer.ErrUnsupportedAttribute) || !strings.Contains(err.Error(), printer.TracksAttribute) {
		t.Fatalf("print with tracks the printer ignores: %v", err)
	}
	if cancels.Load() != 1 {
		t.Errorf("%d Cancel-Job requests, want the ignored job cancelled once", cancels.Load())
	}
}
