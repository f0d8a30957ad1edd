package encoder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ebfe/scard"
)

// Station is the chip encoder of one production station: a PC/SC reader (usually the printer's
// contactless coupler) through pcscd. Rule: a card counts as encoded only when Encode returns
// without error, which it does only after every written block was read back with the read keys
// and the record's signature verified. A Station re-establishes its PC/SC context by itself after
// pcscd restarts; it is safe for use by one goroutine at a time.
type Station struct {
	reader string
	keys   Keys
	log    *slog.Logger

	mu  sync.Mutex
	ctx *scard.Context
}

// NewStation returns the encoder for the named reader. The keys are validated here.
func NewStation(reader string, keys Keys, log *slog.Logger) (*Station, error) {
	if err := keys.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Station{reader: reader, keys: keys, log: log}, nil
}

// Reader is the reader's name.
func (s *Station) Reader() string { return s.reader }

// Close releases the PC/SC context.
func (s *Station) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx != nil {
		err := s.ctx.Release()
		s.ctx = nil
		return err
	}
	return nil
}

func (s *Station) context() (*scard.Context, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx != nil {
		if ok, _ := s.ctx.IsValid(); ok {
			return s.ctx, nil
		}
		_ = s.ctx.Release()
		s.ctx = nil
	}
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("establish PC/SC context: %w", classify(err))
	}
	s.ctx = c
	return c, nil
}

// drop forgets the context after the service went away, so the next call establishes a new one.
func (s *Station) drop(err error) {
	if !errors.Is(err, ErrServiceGone) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx != nil {
		_ = s.ctx.Release()
		s.ctx = nil
	}
}

// classify maps PC/SC errors onto the failure classes.
func classify(err error) error {
	var se scard.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se {
	case scard.ErrRemovedCard, scard.ErrNoSmartcard, scard.ErrResetCard, scard.ErrUnpoweredCard, scard.ErrUnresponsiveCard:
		return fmt.Errorf("%w (%v)", ErrCardRemoved, se)
	case scard.ErrUnknownReader, scard.ErrReaderUnavailable, scard.ErrNoReadersAvailable, scard.ErrReaderUnsupported:
		return fmt.Errorf("%w (%v)", ErrReaderGone, se)
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrInvalidHandle, scard.ErrShutdown, scard.ErrCommError:
		return fmt.Errorf("%w (%v)", ErrServiceGone, se)
	}
	return err
}

// WaitForCard blocks until a card is present in the reader (or ctx ends) and returns its ATR.
func (s *Station) WaitForCard(ctx context.Context) ([]byte, error) {
	atr, err := s.waitForCard(ctx)
	s.drop(err)
	return atr, err
}

func (s *Station) waitForCard(ctx context.Context) ([]byte, error) {
	var atr []byte
	err := s.await(ctx, func(st scard.StateFlag, a []byte) (bool, error) {
		if st&(scard.StateUnknown|scard.StateUnavailable) != 0 {
			return false, ErrReaderGone
		}
		atr = a
		return st&scard.StatePresent != 0 && st&scard.StateMute == 0, nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for card in %q: %w", s.reader, err)
	}
	return atr, nil
}

// WaitForRemoval blocks until the reader's slot is empty (or ctx ends).
func (s *Station) WaitForRemoval(ctx context.Context) error {
	err := s.await(ctx, func(st scard.StateFlag, _ []byte) (bool, error) {
		if st&(scard.StateUnknown|scard.StateUnavailable) != 0 {
			return false, ErrReaderGone
		}
		return st&scard.StateEmpty != 0, nil
	})
	s.drop(err)
	if err != nil {
		return fmt.Errorf("wait for removal from %q: %w", s.reader, err)
	}
	return nil
}

// statusChange serialises ebfe/scard's GetStatusChange across the process. The library keeps
// each call's reader name in a package-level map (so that the C string outlives the call) and
// writes that map unguarded: two stations waiting at once race on it, which can end the process
// with "concurrent map writes". It is package-level because the map it guards is. Holding it
// through a blocking wait would make every station wait on the others, so waits poll the
// reader's state with a zero timeout under the lock and sleep outside it.
var statusChange sync.Mutex

// statePoll is how often a wait looks at the reader. pcscd itself looks at vpcd readers every
// 400 ms, and a card takes far longer than this to be fed or ejected.
const statePoll = 20 * time.Millisecond

// await polls the reader's state until done says so or fails, ctx ends, or PC/SC fails. The
// returned error is ctx's or a classified PC/SC error.
func (s *Station) await(ctx context.Context, done func(scard.StateFlag, []byte) (bool, error)) error {
	var tick *time.Ticker
	for {
		c, err := s.context()
		if err != nil {
			return err
		}
		rs := []scard.ReaderState{{Reader: s.reader, CurrentState: scard.StateUnaware}}
		statusChange.Lock()
		err = c.GetStatusChange(rs, 0)
		statusChange.Unlock()
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			return s.classifyWait(c, err)
		}
		if err == nil {
			if ok, err := done(rs[0].EventState, rs[0].Atr); err != nil || ok {
				return err
			}
		}
		if tick == nil {
			tick = time.NewTicker(statePoll)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// classifyWait classifies a failed look at the reader. A daemon killed during the look can
// leave the client with an error that names neither (SCARD_E_NO_ACCESS, seen after a card was
// connected in the context), so an error of no known class is checked against the daemon.
func (s *Station) classifyWait(c *scard.Context, err error) error {
	err = classify(err)
	if errors.Is(err, ErrServiceGone) || errors.Is(err, ErrReaderGone) || errors.Is(err, ErrCardRemoved) {
		return err
	}
	if _, lerr := c.ListReaders(); lerr != nil {
		if cl := classify(lerr); errors.Is(cl, ErrServiceGone) {
			return cl
		}
	}
	return err
}

// IsMifare4K reports whether atr is that of a MIFARE Classic 4K behind a PC/SC Part 3 reader
// (RID A0 00 00 03 06, card name 00 02).
func IsMifare4K(atr []byte) bool {
	if len(atr) < 15 || atr[4] != 0x80 || atr[5] != 0x4F {
		return false
	}
	return bytes.Equal(atr[7:12], []byte{0xA0, 0x00, 0x00, 0x03, 0x06}) && atr[13] == 0x00 && atr[14] == 0x02
}

// connect waits for a card, checks its type and connects to it exclusively.
func (s *Station) connect(ctx context.Context) (*scard.Card, error) {
	atr, err := s.waitForCard(ctx)
	if err != nil {
		return nil, err
	}
	if !IsMifare4K(atr) {
		return nil, fmt.Errorf("ATR % X: %w", atr, ErrWrongCardType)
	}
	c, err := s.context()
	if err != nil {
		return nil, err
	}
	card, err := c.Connect(s.reader, scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		return nil, fmt.Errorf("connect to card in %q: %w", s.reader, classify(err))
	}
	return card, nil
}

// pcscCard adapts a connected card and classifies transmit errors: a failed exchange is checked
// against the card's status to tell removal from a broken service.
type pcscCard struct{ card *scard.Card }

func (p pcscCard) Transmit(apdu []byte) ([]byte, error) {
	r, err := p.card.Transmit(apdu)
	if err == nil && len(r) >= 2 {
		return r, nil
	}
	if err == nil {
		err = fmt.Errorf("card answered %d bytes", len(r)) // vpcd's answer when the card vanished
	}
	cerr := classify(err)
	if errors.Is(cerr, ErrCardRemoved) || errors.Is(cerr, ErrServiceGone) || errors.Is(cerr, ErrReaderGone) {
		return nil, cerr
	}
	// A card torn from the field mid-APDU first shows as a failed exchange; the reader notices the
	// empty slot at its next poll (pcscd polls every 400 ms), so ask the status for a while.
	for i := 0; i < 12; i++ {
		if _, serr := p.card.Status(); serr != nil {
			return nil, fmt.Errorf("exchange failed (%v): %w", err, classify(serr))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("exchange with card failed: %w", err)
}

// Encode waits for a card in the reader, checks it is a MIFARE Classic 4K, writes r, reads every
// written block back with the read keys and verifies bytes and signature. It returns the chip's
// UID, which production records against the card number.
func (s *Station) Encode(ctx context.Context, r Record, opt EncodeOptions) (EncodeResult, error) {
	start := time.Now()
	res, err := s.encode(ctx, r, opt)
	s.drop(err)
	if err != nil {
		return res, fmt.Errorf("encode card %s: %w", r.CardNumber, err)
	}
	s.log.Info("chip encoded", "card", r.CardNumber, "uid", fmt.Sprintf("%X", res.UID), "apdus", res.APDUs, "reused", res.Reused, "took", time.Since(start))
	return res, nil
}

func (s *Station) encode(ctx context.Context, r Record, opt EncodeOptions) (EncodeResult, error) {
	if err := r.Validate(); err != nil {
		return EncodeResult{}, err
	}
	card, err := s.connect(ctx)
	if err != nil {
		return EncodeResult{}, err
	}
	defer card.Disconnect(scard.LeaveCard)
	return encodeCard(pcscCard{card}, r, s.keys, opt)
}

// ReadResult is a card as a field reader sees it.
type ReadResult struct {
	UID    []byte
	ATR    []byte
	Record ParsedRecord
	APDUs  int
}

// ReadCard waits for a card in the named reader and reads and verifies its industry coding as an
// access system would, with only the read key and the public keys.
func ReadCard(ctx context.Context, reader string, v Verifier) (ReadResult, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return ReadResult{}, fmt.Errorf("read card: establish PC/SC context: %w", classify(err))
	}
	st := &Station{reader: reader, ctx: c, log: slog.New(slog.DiscardHandler)}
	defer st.Close() // the context in use then: a pcscd restart while waiting replaces it
	card, err := st.connect(ctx)
	if err != nil {
		return ReadResult{}, fmt.Errorf("read card: %w", err)
	}
	defer card.Disconnect(scard.LeaveCard)
	return readCard(pcscCard{card}, v)
}

func readCard(tx Transmitter, v Verifier) (ReadResult, error) {
	sess := newSession(tx)
	uid, err := sess.uid()
	if err != nil {
		return ReadResult{}, fmt.Errorf("read card: %w", err)
	}
	res := ReadResult{UID: uid}
	res.Record, err = readApplication(sess, uid, v, true)
	res.APDUs = sess.apdus
	if err != nil {
		return res, fmt.Errorf("read card UID % X: %w", uid, err)
	}
	return res, nil
}

// ListReaders lists the PC/SC readers that pcscd knows.
func ListReaders(ctx context.Context) ([]string, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("list readers: %w", classify(err))
	}
	defer c.Release()
	rs, err := c.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list readers: %w", classify(err))
	}
	return rs, nil
}
