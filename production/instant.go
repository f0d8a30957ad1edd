package production

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/OpenPrinting/goipp"

	"cardline/encoder"
	"cardline/printer"
)

// InstantStation is the load harness's station (`cardline load`): the encoder, printer and
// transport of one station in memory, each instant, so that a load run measures the software path
// and nothing else. serve never uses it. Rule: it refuses what the real parts would refuse. A blank
// is fed only to an empty coupler; a chip is encoded only on a fed blank, by planning the real
// card image (encoder.Plan: the industry record, signed, laid out on MIFARE Classic 4K with its
// keys and trailers, checked by Image.Validate) and reading the record back from that image as a
// field reader would (encoder.ParseRecord with the signature checked): only PC/SC is skipped. The
// printer takes only a CR80 PWG Raster job named by the card at the coupler, completes it at once
// and answers for known jobs only; a card is ejected to the output only when its chip and print
// are done. The card faces are rendered by the worker as always, so their cost is measured.
type InstantStation struct {
	keys   encoder.Keys
	prefix byte // second UID byte: keeps UIDs of different stations apart

	mu       sync.Mutex
	seq      uint64 // blanks fed
	uid      []byte // of the blank at the coupler; nil when the coupler is empty
	encoded  string // card number on the chip at the coupler
	printed  bool   // a job for the card at the coupler completed
	jobs     map[int]*printer.JobResult
	jobNames map[int]string
	lastJob  int
	Produced int // cards ejected to the output tray
	Rejected int // cards ejected to the reject tray
}

// InstantMedia is the CR80 media the instant printer reports loaded.
const InstantMedia = "om_cr80_53.98x85.6mm"

// NewInstantStation makes the instant parts of station number n (UIDs differ between stations).
func NewInstantStation(n int, keys encoder.Keys) (*InstantStation, error) {
	if err := keys.Validate(); err != nil {
		return nil, fmt.Errorf("instant station: %w", err)
	}
	return &InstantStation{keys: keys, prefix: byte(n), jobs: map[int]*printer.JobResult{}, jobNames: map[int]string{}}, nil
}

// FeedBlank puts a fresh blank (new 7-byte UID) at the coupler.
func (s *InstantStation) FeedBlank(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uid != nil {
		return errors.New("instant transport: feed with a card still at the coupler")
	}
	s.seq++
	uid := make([]byte, 7)
	uid[0], uid[1] = 0x04, s.prefix // 0x04: NXP's manufacturer byte, as on real 7-byte UIDs
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], s.seq)
	copy(uid[2:], n[3:])
	s.uid, s.encoded, s.printed = uid, "", false
	return nil
}

// EjectOutput takes the card at the coupler to the output tray: only a card with its chip and its
// print done.
func (s *InstantStation) EjectOutput(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.uid == nil:
		return errors.New("instant transport: eject to output with no card at the coupler")
	case s.encoded == "" || !s.printed:
		return fmt.Errorf("instant transport: card %X to output before it was encoded and printed", s.uid)
	}
	s.uid = nil
	s.Produced++
	return nil
}

// EjectReject takes the card at the coupler to the reject tray.
func (s *InstantStation) EjectReject(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uid == nil {
		return errors.New("instant transport: eject to reject tray with no card at the coupler")
	}
	s.uid = nil
	s.Rejected++
	return nil
}

// Encode writes r to the blank at the coupler: the card image is planned and validated as for a
// real chip, and the record read back from it must carry a valid signature over this UID and
// the same card.
func (s *InstantStation) Encode(ctx context.Context, r encoder.Record, opt encoder.EncodeOptions) (encoder.EncodeResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uid == nil {
		return encoder.EncodeResult{}, fmt.Errorf("instant encoder: no card at the coupler: %w", encoder.ErrReaderGone)
	}
	uid := slices.Clone(s.uid)
	res := encoder.EncodeResult{UID: uid}
	if s.encoded != "" && s.encoded != r.CardNumber && !opt.ReuseReject {
		return res, &encoder.AlreadyEncodedError{UID: uid, CardNumber: s.encoded}
	}
	if err := r.Validate(); err != nil {
		return res, err
	}
	img, err := encoder.Plan(r, uid, s.keys, s.encoded != "")
	if err != nil {
		return res, err
	}
	if err := img.Validate(); err != nil {
		return res, err
	}
	back, err := encoder.ParseRecord(img.Record, uid, s.keys.Verifier().PublicKeys)
	if err != nil {
		return res, fmt.Errorf("instant encoder: read back: %w", err)
	}
	if !back.Verified || back.CardNumber != r.CardNumber {
		return res, fmt.Errorf("instant encoder: read back card %s (signature checked: %t), wrote %s: %w",
			back.CardNumber, back.Verified, r.CardNumber, encoder.ErrBadSignature)
	}
	s.encoded, s.printed = r.CardNumber, false
	return res, nil
}

// WaitForRemoval returns at once when the coupler is empty; a card left there never goes away
// on its own.
func (s *InstantStation) WaitForRemoval(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uid != nil {
		return fmt.Errorf("instant encoder: card %X is still at the coupler", s.uid)
	}
	return nil
}

// Status reports an idle printer with CR80 loaded that takes two-sided PWG Raster.
func (s *InstantStation) Status(ctx context.Context) (*printer.PrinterStatus, error) {
	return &printer.PrinterStatus{State: "idle", Reasons: []string{"none"}, AcceptingJobs: true,
		MediaReady: []string{InstantMedia}, MediaSupported: []string{InstantMedia},
		DocumentFormats: []string{"image/pwg-raster"}, Sides: []string{"one-sided", "two-sided-short-edge"}}, nil
}

// Submit takes a card's job and completes it at once. The job must be PWG Raster on the loaded
// media, named by the encoded card at the coupler.
func (s *InstantStation) Submit(ctx context.Context, doc printer.Document) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bad := func(why string) (int, error) {
		return 0, &printer.StatusError{Op: goipp.OpPrintJob, Status: goipp.StatusErrorBadRequest, Message: "instant printer: " + why}
	}
	switch {
	case doc.Format != "image/pwg-raster" || !bytes.HasPrefix(doc.Data, []byte("RaS2")):
		return bad(fmt.Sprintf("not a PWG Raster document (%q, %d bytes)", doc.Format, len(doc.Data)))
	case doc.Media != InstantMedia:
		return bad(fmt.Sprintf("media %q is not loaded", doc.Media))
	case s.uid == nil:
		return bad("no card at the coupler to print on")
	case doc.Name != s.encoded && !strings.HasPrefix(doc.Name, s.encoded+"-"): // a station names it card-attempt
		return bad(fmt.Sprintf("job %q is not for the encoded card at the coupler (%q)", doc.Name, s.encoded))
	}
	s.lastJob++
	s.jobs[s.lastJob] = &printer.JobResult{JobID: s.lastJob, State: "completed", Reasons: []string{"job-completed-successfully"},
		Media: doc.Media, Sides: doc.Sides, Format: doc.Format}
	s.jobNames[s.lastJob] = doc.Name
	s.printed = true
	return s.lastJob, nil
}

// JobsNamed returns the jobs submitted under name.
func (s *InstantStation) JobsNamed(ctx context.Context, name string) ([]printer.JobResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []printer.JobResult
	for id, n := range s.jobNames {
		if n == name {
			out = append(out, *s.jobs[id])
		}
	}
	return out, nil
}

// Cancel of a job that completed at once is not an error, as over IPP.
func (s *InstantStation) Cancel(ctx context.Context, jobID int) error { return nil }

// Watch returns the (completed) job; a job the printer never took is not found, as over IPP.
func (s *InstantStation) Watch(ctx context.Context, jobID int, onFault func(printer.Fault)) (*printer.JobResult, error) {
	return s.JobState(ctx, jobID)
}

// JobState returns a job's state.
func (s *InstantStation) JobState(ctx context.Context, jobID int) (*printer.JobResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[jobID]
	if !ok {
		return nil, fmt.Errorf("get job %d: %w", jobID, &printer.StatusError{Op: goipp.OpGetJobAttributes,
			Status: goipp.StatusErrorNotFound, Message: "instant printer: no such job"})
	}
	r := *j
	return &r, nil
}
