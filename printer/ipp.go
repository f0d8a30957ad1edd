package printer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/OpenPrinting/goipp"
)

// ErrUnsupportedAttribute is wrapped by a Print-Job the printer took while ignoring one of the
// document's own attributes (Document.Attributes): the job is cancelled, and every job sent
// there would lose the same, so it is the printer's configuration to fix, not the card.
var ErrUnsupportedAttribute = errors.New("printer ignores a job attribute")

// ErrOffline is wrapped by errors from a printer that did not answer: connection refused or
// dropped, or no response within the request timeout (a stopped printer accepts connections and
// never answers, so every request has one).
var ErrOffline = errors.New("printer offline")

// A StatusError is an IPP response whose status is not successful.
type StatusError struct {
	Op      goipp.Op
	Status  goipp.Status
	Message string // the printer's status-message
}

// An HTTPError is a printer's answer other than 200 OK, before any IPP.
type HTTPError struct {
	Code int
	msg  string
}

func (e *HTTPError) Error() string { return e.msg }

// passing says whether err is a printer's answer that asks to be asked again: server-error-*
// (busy, temporary error, …) or an HTTP 5xx (a CUPS under load answers 503). While a job is
// watched, one of these must not end the watch, which would cancel a card mid-print.
func passing(err error) bool {
	var se *StatusError
	var he *HTTPError
	return (errors.As(err, &se) && se.Status >= 0x0500 && se.Status <= 0x05FF) ||
		(errors.As(err, &he) && he.Code >= 500 && he.Code <= 599)
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s: %s", e.Op, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// ClientOptions tune a Client. Zero values take the defaults in brackets.
type ClientOptions struct {
	RequestTimeout time.Duration // one IPP request, upload included [10 s]
	PollInterval   time.Duration // between Get-Job-Attributes while a job runs [250 ms]
	BusyRetry      time.Duration // first wait after server-error-busy, doubling to 2 s [100 ms]
	OfflineAfter   int           // failed polls in a row before a running job is given up as offline [3]
	User           string        // requesting-user-name [cardline]
	Logger         *slog.Logger  // [slog.Default()]
}

// A Client talks IPP to one printer: an IPP Everywhere printer (ipp://host/ipp/print) or a CUPS
// queue (ipp://host:631/printers/NAME). It is a thin layer over net/http and goipp; it is safe for
// concurrent use, but a printer prints one job at a time and answers server-error-busy to the
// others, which Print retries.
type Client struct {
	uri  string
	url  string
	http *http.Client
	opts ClientOptions
	ids  atomic.Uint32
}

// NewClient makes a client for the printer at uri (ipp, ipps, http or https).
func NewClient(uri string, opts ClientOptions) (*Client, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("printer URI %q: %w", uri, err)
	}
	switch u.Scheme {
	case "ipp", "http":
		u.Scheme = "http"
		if u.Port() == "" {
			u.Host = net.JoinHostPort(u.Hostname(), "631")
		}
	case "ipps", "https":
		u.Scheme = "https"
		if u.Port() == "" {
			u.Host = net.JoinHostPort(u.Hostname(), "443")
		}
	default:
		return nil, fmt.Errorf("printer URI %q: scheme must be ipp or ipps", uri)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("printer URI %q: no host", uri)
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	if opts.BusyRetry <= 0 {
		opts.BusyRetry = 100 * time.Millisecond
	}
	if opts.OfflineAfter <= 0 {
		opts.OfflineAfter = 3
	}
	if opts.User == "" {
		opts.User = "cardline"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	tr := &http.Transport{
		Proxy:                 nil, // printers are on the local network; never through a proxy
		DialContext:           (&net.Dialer{Timeout: min(opts.RequestTimeout, 5*time.Second)}).DialContext,
		TLSHandshakeTimeout:   opts.RequestTimeout,
		ResponseHeaderTimeout: opts.RequestTimeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
	}
	return &Client{uri: uri, url: u.String(), http: &http.Client{Transport: tr, Timeout: opts.RequestTimeout}, opts: opts}, nil
}

// URI is the printer's URI as given.
func (c *Client) URI() string { return c.uri }

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// do sends one IPP request (with an optional document after it) and returns the response.
func (c *Client) do(ctx context.Context, req *goipp.Message, doc []byte) (*goipp.Message, error) {
	op := goipp.Op(req.Code)
	head, err := req.EncodeBytes()
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", op, err)
	}
	body := io.MultiReader(bytes.NewReader(head), bytes.NewReader(doc))
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	hreq.ContentLength = int64(len(head) + len(doc))
	hreq.Header.Set("Content-Type", goipp.ContentType)
	resp, err := c.http.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s to %s: %w", op, c.uri, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %s to %s: %v", ErrOffline, op, c.uri, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, &HTTPError{Code: resp.StatusCode,
			msg: fmt.Sprintf("%s to %s: HTTP %s: %s", op, c.uri, resp.Status, strings.TrimSpace(string(msg)))}
	}
	var m goipp.Message
	if err := m.Decode(io.LimitReader(resp.Body, 4<<20)); err != nil {
		if ctx.Err() == nil && isNetErr(err) {
			return nil, fmt.Errorf("%w: %s to %s: read response: %v", ErrOffline, op, c.uri, err)
		}
		return nil, fmt.Errorf("%s to %s: decode response: %w", op, c.uri, err)
	}
	if st := goipp.Status(m.Code); st >= 0x0100 { // 0x0000–0x00FF are the successful statuses
		return &m, &StatusError{Op: op, Status: st, Message: attrString(m.Operation, "status-message")}
	}
	return &m, nil
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// request starts an IPP request with the operation attributes every request carries.
func (c *Client) request(op goipp.Op) *goipp.Message {
	m := goipp.NewRequest(goipp.MakeVersion(2, 0), op, c.ids.Add(1))
	m.Operation.Add(goipp.MakeAttribute("attributes-charset", goipp.TagCharset, goipp.String("utf-8")))
	m.Operation.Add(goipp.MakeAttribute("attributes-natural-language", goipp.TagLanguage, goipp.String("en")))
	m.Operation.Add(goipp.MakeAttribute("printer-uri", goipp.TagURI, goipp.String(c.uri)))
	m.Operation.Add(goipp.MakeAttribute("requesting-user-name", goipp.TagName, goipp.String(c.opts.User)))
	return m
}

// Marker is one supply (ribbon, ink, toner) as the printer reports it; levels are percent, or
// negative when unknown.
type Marker struct {
	Name, Type, Color          string
	Level, LowLevel, HighLevel int
}

// PrinterStatus is what Get-Printer-Attributes tells about a printer.
type PrinterStatus struct {
	State           string   // idle, processing or stopped
	Reasons         []string // printer-state-reasons as sent
	Message         string   // printer-state-message, the printer's own words
	AcceptingJobs   bool
	Faults          []Fault // Reasons mapped for the operator
	MediaReady      []string
	MediaSupported  []string
	DocumentFormats []string
	Sides           []string
	SheetBack       string // pwg-raster-document-sheet-back: how the printer feeds back sides
	Markers         []Marker
}

// Status asks the printer for its state, faults, media and supplies.
func (c *Client) Status(ctx context.Context) (*PrinterStatus, error) {
	req := c.request(goipp.OpGetPrinterAttributes)
	req.Operation.Add(keywords("requested-attributes",
		"printer-state", "printer-state-reasons", "printer-state-message", "printer-is-accepting-jobs",
		"media-ready", "media-supported", "document-format-supported", "sides-supported", "pwg-raster-document-sheet-back",
		"marker-names", "marker-types", "marker-colors", "marker-levels", "marker-low-levels", "marker-high-levels"))
	resp, err := c.do(ctx, req, nil)
	if err != nil {
		return nil, fmt.Errorf("get printer status: %w", err)
	}
	a := resp.Printer
	st := &PrinterStatus{
		State:           printerState(attrInt(a, "printer-state", 0)),
		Reasons:         attrStrings(a, "printer-state-reasons"),
		Message:         strings.TrimSpace(attrString(a, "printer-state-message")),
		AcceptingJobs:   attrBool(a, "printer-is-accepting-jobs"),
		MediaReady:      attrStrings(a, "media-ready"),
		MediaSupported:  attrStrings(a, "media-supported"),
		DocumentFormats: attrStrings(a, "document-format-supported"),
		Sides:           attrStrings(a, "sides-supported"),
		SheetBack:       attrString(a, "pwg-raster-document-sheet-back"),
	}
	st.Faults = FaultsFromReasons(st.Reasons, st.Message)
	names, types, colors := attrStrings(a, "marker-names"), attrStrings(a, "marker-types"), attrStrings(a, "marker-colors")
	levels, lows, highs := attrInts(a, "marker-levels"), attrInts(a, "marker-low-levels"), attrInts(a, "marker-high-levels")
	for i, n := range names {
		m := Marker{Name: n, Level: -1, LowLevel: -1, HighLevel: -1}
		if i < len(types) {
			m.Type = types[i]
		}
		if i < len(colors) {
			m.Color = colors[i]
		}
		if i < len(levels) {
			m.Level = levels[i]
		}
		if i < len(lows) {
			m.LowLevel = lows[i]
		}
		if i < len(highs) {
			m.HighLevel = highs[i]
		}
		st.Markers = append(st.Markers, m)
	}
	return st, nil
}

func printerState(v int) string {
	switch v {
	case 3:
		return "idle"
	case 4:
		return "processing"
	case 5:
		return "stopped"
	}
	return fmt.Sprintf("unknown(%d)", v)
}

func jobState(v int) string {
	switch v {
	case 3:
		return "pending"
	case 4:
		return "pending-held"
	case 5:
		return "processing"
	case 6:
		return "processing-stopped"
	case 7:
		return "canceled"
	case 8:
		return "aborted"
	case 9:
		return "completed"
	}
	return fmt.Sprintf("unknown(%d)", v)
}

// JobAttribute is an extra job attribute sent with Print-Job, as text values: the way a station
// hands a driver what the document cannot carry (such as magnetic stripe tracks). CUPS passes job
// attributes it does not know to the driver as options.
type JobAttribute struct {
	Name   string
	Values []string
}

// Document is one print job: a document in a format the printer accepts, with the media and
// sides to print it on.
type Document struct {
	Name       string // job-name; for a card its card number
	Format     string // document-format, e.g. image/pwg-raster
	Data       []byte
	Media      string // media keyword, as the printer reported it
	Sides      string // one-sided, two-sided-long-edge, …
	Attributes []JobAttribute
}

// JobResult is how a job ended.
type JobResult struct {
	JobID   int
	State   string   // completed, aborted or canceled (or the last state seen, on error)
	Reasons []string // job-state-reasons
	Message string   // job-state-message, the printer's words about the job
	Faults  []Fault  // printer faults seen while the job ran, first sighting each
	Media   string
	Sides   string
	Format  string
}

// A JobError is a job that ended other than completed: aborted or canceled by the printer.
type JobError struct{ Result *JobResult }

func (e *JobError) Error() string {
	r := e.Result
	s := fmt.Sprintf("job %d (%s) %s", r.JobID, r.Media, r.State)
	if r.Message != "" {
		s += fmt.Sprintf(": printer says %q", r.Message)
	}
	if len(r.Reasons) > 0 {
		s += " [" + strings.Join(r.Reasons, ",") + "]"
	}
	for _, f := range r.Faults {
		s += "; " + f.String()
	}
	return s
}

// Print sends the document with Print-Job, retrying while the printer answers server-error-busy,
// then watches the job with Get-Job-Attributes (and the printer's faults with
// Get-Printer-Attributes) until it is completed, aborted or canceled. onFault, if not nil, hears
// each printer fault the first time it is seen while the job runs: that is how an operator learns
// that a job waits for cards. A job that does not complete returns a *JobError; a printer that
// stops answering returns an error wrapping ErrOffline. ctx bounds the whole job.
//
// A job given up on (ctx ended, or the printer stopped answering) is canceled at the printer as
// far as it can still be reached, so that it does not print later on a card the station has
// already sent to the reject tray.
func (c *Client) Print(ctx context.Context, doc Document, onFault func(Fault)) (*JobResult, error) {
	res := &JobResult{State: "pending", Media: doc.Media, Sides: doc.Sides, Format: doc.Format}
	id, err := c.printJob(ctx, doc)
	if err != nil {
		return res, fmt.Errorf("print %s on %s: %w", doc.Name, c.uri, err)
	}
	res.JobID = id
	c.opts.Logger.Info("print job sent", "printer", c.uri, "job", id, "name", doc.Name, "bytes", len(doc.Data), "media", doc.Media, "sides", doc.Sides)
	return c.watchOrCancel(ctx, id, res, onFault)
}

// Submit sends the document with Print-Job (waiting out server-error-busy) and returns the job id
// without watching the job: a station records the id first, so that after a crash it can ask the
// printer how the job ended. Follow the job with Watch.
func (c *Client) Submit(ctx context.Context, doc Document) (int, error) {
	id, err := c.printJob(ctx, doc)
	if err != nil {
		return 0, fmt.Errorf("print %s on %s: %w", doc.Name, c.uri, err)
	}
	c.opts.Logger.Info("print job sent", "printer", c.uri, "job", id, "name", doc.Name, "bytes", len(doc.Data), "media", doc.Media, "sides", doc.Sides)
	return id, nil
}

// Watch follows a submitted job to its end exactly as Print does, canceling it at the printer if
// it is given up on.
func (c *Client) Watch(ctx context.Context, jobID int, onFault func(Fault)) (*JobResult, error) {
	return c.watchOrCancel(ctx, jobID, &JobResult{JobID: jobID, State: "pending"}, onFault)
}

func (c *Client) watchOrCancel(ctx context.Context, id int, res *JobResult, onFault func(Fault)) (*JobResult, error) {
	res, err := c.watch(ctx, id, res, onFault)
	var je *JobError
	if err != nil && !errors.As(err, &je) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.RequestTimeout)
		defer cancel()
		if cerr := c.Cancel(cctx, id); cerr != nil {
			c.opts.Logger.Warn("cancel abandoned job", "printer", c.uri, "job", id, "err", cerr)
		} else {
			c.opts.Logger.Info("canceled abandoned job", "printer", c.uri, "job", id)
		}
	}
	return res, err
}

// Cancel cancels a job (Cancel-Job). A job that has already ended is not an error.
func (c *Client) Cancel(ctx context.Context, jobID int) error {
	req := c.request(goipp.OpCancelJob)
	req.Operation.Add(goipp.MakeAttribute("job-id", goipp.TagInteger, goipp.Integer(jobID)))
	_, err := c.do(ctx, req, nil)
	var se *StatusError
	if errors.As(err, &se) && se.Status == goipp.StatusErrorNotPossible {
		return nil // already completed, aborted or canceled
	}
	if err != nil {
		return fmt.Errorf("cancel job %d: %w", jobID, err)
	}
	return nil
}

// JobState returns a job's state as the printer reports it now.
func (c *Client) JobState(ctx context.Context, jobID int) (*JobResult, error) {
	res := &JobResult{JobID: jobID}
	if _, err := c.jobState(ctx, jobID, res); err != nil {
		return nil, fmt.Errorf("get job %d: %w", jobID, err)
	}
	return res, nil
}

// JobsNamed returns the printer's jobs whose job-name is name, any state, that it still knows
// (Get-Jobs, which-jobs all). A station names each job by its card number, so after a crash
// between Print-Job and recording the job's id this finds the job the station does not know.
func (c *Client) JobsNamed(ctx context.Context, name string) ([]JobResult, error) {
	req := c.request(goipp.OpGetJobs)
	req.Operation.Add(keywords("which-jobs", "all"))
	req.Operation.Add(keywords("requested-attributes", "job-id", "job-name", "job-state"))
	resp, err := c.do(ctx, req, nil)
	if err != nil {
		return nil, fmt.Errorf("list jobs named %q: %w", name, err)
	}
	var out []JobResult
	for _, g := range resp.Groups {
		if g.Tag != goipp.TagJobGroup || attrString(g.Attrs, "job-name") != name {
			continue
		}
		out = append(out, JobResult{JobID: attrInt(g.Attrs, "job-id", 0), State: jobState(attrInt(g.Attrs, "job-state", 0))})
	}
	return out, nil
}

// watch polls the job until it ends.
func (c *Client) watch(ctx context.Context, id int, res *JobResult, onFault func(Fault)) (*JobResult, error) {
	seen := map[string]bool{}
	fails := 0
	for {
		state, err := c.jobState(ctx, id, res)
		switch {
		case err == nil:
			fails = 0
			// The printer's state says why a job waits or failed (jam, ribbon out) and warns
			// about what comes next (ribbon low): keep it with the job.
			if st, err := c.Status(ctx); err == nil {
				c.noteFaults(st.Faults, seen, res, onFault)
			}
			switch state {
			case "completed":
				return res, nil
			case "aborted", "canceled":
				return res, &JobError{Result: res}
			}
		case ctx.Err() != nil:
			return res, fmt.Errorf("watch job %d on %s: %w", id, c.uri, ctx.Err())
		case errors.Is(err, ErrOffline) || passing(err):
			if fails++; fails >= c.opts.OfflineAfter {
				c.noteFaults([]Fault{{Kind: FaultOffline, Severity: SeverityError, Reason: "offline", Message: err.Error()}}, seen, res, onFault)
				return res, fmt.Errorf("watch job %d on %s: %w", id, c.uri, err)
			}
		default:
			return res, fmt.Errorf("watch job %d on %s: %w", id, c.uri, err)
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("watch job %d on %s: %w", id, c.uri, ctx.Err())
		case <-time.After(c.opts.PollInterval):
		}
	}
}

func (c *Client) noteFaults(fs []Fault, seen map[string]bool, res *JobResult, onFault func(Fault)) {
	for _, f := range fs {
		k := string(f.Kind) + "/" + f.Reason
		if seen[k] {
			continue
		}
		seen[k] = true
		res.Faults = append(res.Faults, f)
		c.opts.Logger.Warn("printer fault", "printer", c.uri, "job", res.JobID, "fault", f.String())
		if onFault != nil {
			onFault(f)
		}
	}
}

// printJob sends Print-Job, waiting out server-error-busy, and returns the job id.
func (c *Client) printJob(ctx context.Context, doc Document) (int, error) {
	wait := c.opts.BusyRetry
	for {
		req := c.request(goipp.OpPrintJob)
		req.Operation.Add(goipp.MakeAttribute("job-name", goipp.TagName, goipp.String(doc.Name)))
		req.Operation.Add(goipp.MakeAttribute("document-format", goipp.TagMimeType, goipp.String(doc.Format)))
		if doc.Media != "" {
			req.Job.Add(goipp.MakeAttribute("media", goipp.TagKeyword, goipp.String(doc.Media)))
		}
		if doc.Sides != "" {
			req.Job.Add(goipp.MakeAttribute("sides", goipp.TagKeyword, goipp.String(doc.Sides)))
		}
		for _, a := range doc.Attributes {
			if len(a.Values) == 0 {
				continue
			}
			attr := goipp.MakeAttribute(a.Name, goipp.TagText, goipp.String(a.Values[0]))
			for _, v := range a.Values[1:] {
				attr.Values.Add(goipp.TagText, goipp.String(v))
			}
			req.Job.Add(attr)
		}
		resp, err := c.do(ctx, req, doc.Data)
		var se *StatusError
		if errors.As(err, &se) && se.Status == goipp.StatusErrorBusy {
			c.opts.Logger.Debug("printer busy, retrying", "printer", c.uri, "wait", wait)
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("printer busy: %w", ctx.Err())
			case <-time.After(wait):
			}
			wait = min(2*wait, 2*time.Second)
			continue
		}
		if err != nil {
			return 0, err
		}
		id := attrInt(resp.Job, "job-id", 0)
		if id == 0 {
			return 0, fmt.Errorf("Print-Job: response has no job-id")
		}
		// A printer that does not know an attribute of ours (the magnetic tracks) may take the
		// job all the same, saying so only in the unsupported group: the card would come out
		// without what the attribute asked for. Stop the job and say which attribute.
		for _, a := range resp.Unsupported {
			for _, want := range doc.Attributes {
				if a.Name == want.Name {
					cerr := c.Cancel(context.WithoutCancel(ctx), id)
					return 0, errors.Join(fmt.Errorf("%w: job %d: the printer ignores %s", ErrUnsupportedAttribute, id, a.Name), cerr)
				}
			}
		}
		return id, nil
	}
}

// jobState fetches the job's state into res and returns it.
func (c *Client) jobState(ctx context.Context, id int, res *JobResult) (string, error) {
	req := c.request(goipp.OpGetJobAttributes)
	req.Operation.Add(goipp.MakeAttribute("job-id", goipp.TagInteger, goipp.Integer(id)))
	req.Operation.Add(keywords("requested-attributes", "job-state", "job-state-reasons", "job-state-message"))
	resp, err := c.do(ctx, req, nil)
	if err != nil {
		return "", err
	}
	res.State = jobState(attrInt(resp.Job, "job-state", 0))
	res.Reasons = attrStrings(resp.Job, "job-state-reasons")
	if m := strings.TrimSpace(attrString(resp.Job, "job-state-message")); m != "" {
		res.Message = m
	}
	return res.State, nil
}

// CardJob is one card for PrintCard: its two faces as rendered, and what the station wants the
// printer's own encoder to do with it. The faces come either as Render draws them (Front, Back)
// or as RenderPagesInto draws them onto the print pages (FrontPage, BackPage), which spares
// turning every face per card; a job has one pair or the other. A nil back is a one-sided card.
type CardJob struct {
	CardNumber string
	// JobName names the job at the printer; empty: the card number. A station names each attempt
	// apart (card number and attempt), so that after a crash it finds that attempt's job and no
	// other attempt's.
	JobName             string
	Front, Back         *image.RGBA
	FrontPage, BackPage *image.RGBA
	// Tracks are magnetic stripe track data for the printer's stripe encoder, sent as the job
	// attribute TracksAttribute; empty means no stripe encoding.
	Tracks []string
}

// TracksAttribute is the job attribute that carries a card's magnetic stripe tracks to the
// printer's driver (one text value per track, track 1 first).
const TracksAttribute = "x-cardline-magnetic-tracks"

// PrintCard prints one card, front and back as the two pages of one PWG Raster job named by its
// card number, on the printer's CR80 media, two-sided where the printer supports it.
func (c *Client) PrintCard(ctx context.Context, job CardJob, onFault func(Fault)) (*JobResult, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("print card %s: %w", job.CardNumber, err)
	}
	doc, err := CardDocument(st, job)
	if err != nil {
		return nil, fmt.Errorf("print card %s on %s: %w", job.CardNumber, c.uri, err)
	}
	return c.Print(ctx, doc, onFault)
}

// CardDocument builds the Print-Job document for a card on a printer in status st: CR80 media
// from what the printer reports, PWG Raster, and duplex if the printer has it (short-edge
// preferred, see pwgraster.go; else the back is printed as a second page, which a simplex card
// printer cannot put on the same card).
func CardDocument(st *PrinterStatus, job CardJob) (Document, error) {
	media, err := ChooseMedia(CR80, st.MediaReady, st.MediaSupported)
	if err != nil {
		return Document{}, err
	}
	if !slices.Contains(st.DocumentFormats, "image/pwg-raster") {
		return Document{}, fmt.Errorf("printer does not take image/pwg-raster (it takes %q)", st.DocumentFormats)
	}
	front, back, encode := job.Front, job.Back, EncodeRaster
	if job.FrontPage != nil || job.BackPage != nil {
		if job.Front != nil || job.Back != nil {
			return Document{}, fmt.Errorf("card %s: both faces and pages given", job.CardNumber)
		}
		front, back, encode = job.FrontPage, job.BackPage, EncodePages
	}
	if front == nil {
		return Document{}, fmt.Errorf("card %s: no front", job.CardNumber)
	}
	sides := "one-sided"
	if back != nil {
		for _, s := range []string{"two-sided-short-edge", "two-sided-long-edge"} {
			if slices.Contains(st.Sides, s) {
				sides = s
				break
			}
		}
	}
	var buf bytes.Buffer
	faces := []*image.RGBA{front}
	if back != nil {
		faces = append(faces, back)
	}
	if err := encode(&buf, RasterOptions{MediaName: media, Sides: sides, SheetBack: st.SheetBack}, faces...); err != nil {
		return Document{}, err
	}
	name := job.JobName
	if name == "" {
		name = job.CardNumber
	}
	doc := Document{Name: name, Format: "image/pwg-raster", Data: buf.Bytes(), Media: media, Sides: sides}
	if len(job.Tracks) > 0 {
		doc.Attributes = append(doc.Attributes, JobAttribute{Name: TracksAttribute, Values: job.Tracks})
	}
	return doc, nil
}

func keywords(name string, vals ...string) goipp.Attribute {
	a := goipp.MakeAttribute(name, goipp.TagKeyword, goipp.String(vals[0]))
	for _, v := range vals[1:] {
		a.Values.Add(goipp.TagKeyword, goipp.String(v))
	}
	return a
}

func findAttr(attrs goipp.Attributes, name string) *goipp.Attribute {
	for i := range attrs {
		if attrs[i].Name == name {
			return &attrs[i]
		}
	}
	return nil
}

func attrStrings(attrs goipp.Attributes, name string) []string {
	a := findAttr(attrs, name)
	if a == nil {
		return nil
	}
	var out []string
	for _, v := range a.Values {
		switch x := v.V.(type) {
		case goipp.String:
			out = append(out, string(x))
		case goipp.TextWithLang:
			out = append(out, x.Text)
		}
	}
	return out
}

func attrString(attrs goipp.Attributes, name string) string {
	if s := attrStrings(attrs, name); len(s) > 0 {
		return s[0]
	}
	return ""
}

func attrInts(attrs goipp.Attributes, name string) []int {
	a := findAttr(attrs, name)
	if a == nil {
		return nil
	}
	var out []int
	for _, v := range a.Values {
		if x, ok := v.V.(goipp.Integer); ok {
			out = append(out, int(x))
		}
	}
	return out
}

func attrInt(attrs goipp.Attributes, name string, def int) int {
	if v := attrInts(attrs, name); len(v) > 0 {
		return v[0]
	}
	return def
}

func attrBool(attrs goipp.Attributes, name string) bool {
	if a := findAttr(attrs, name); a != nil && len(a.Values) > 0 {
		b, ok := a.Values[0].V.(goipp.Boolean)
		return ok && bool(b)
	}
	return false
}
