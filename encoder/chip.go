package encoder

import (
	"bytes"
	"errors"
	"fmt"
)

// Failure classes of encoding, each a sentinel for errors.Is.
var (
	ErrCardRemoved    = errors.New("card left the reader")
	ErrWrongKeys      = errors.New("card does not open with any key cardline knows (63 00)")
	ErrWriteNotStuck  = errors.New("read-back differs from what was written")
	ErrAlreadyEncoded = errors.New("card already carries another card number")
	ErrWrongCardType  = errors.New("card is not a MIFARE Classic 4K")
	ErrReaderGone     = errors.New("reader not available")
	ErrServiceGone    = errors.New("PC/SC service (pcscd) not available")
	errAccessDenied   = errors.New("access denied by the card (69 82)")
)

// AlreadyEncodedError says which card number a card already carries.
type AlreadyEncodedError struct {
	UID        []byte
	CardNumber string
}

func (e *AlreadyEncodedError) Error() string {
	return fmt.Sprintf("card UID % X already carries card number %s: refusing to overwrite (not a reject marked for re-use)", e.UID, e.CardNumber)
}

// Is makes errors.Is(err, ErrAlreadyEncoded) true.
func (e *AlreadyEncodedError) Is(target error) bool { return target == ErrAlreadyEncoded }

// Transmitter sends one APDU and returns the response with its status word. A *scard.Card is
// one; so is a *VirtualCard, for in-process tests.
type Transmitter interface {
	Transmit(apdu []byte) ([]byte, error)
}

// Reader key slots (PC/SC Part 3 LOAD KEYS, volatile).
const (
	slotTransport byte = 0
	slotWrite     byte = 1
	slotRead      byte = 2
	slotMAD       byte = 3
)

// maxBlocksPerAPDU keeps READ/UPDATE BINARY within a short APDU (Lc ≤ 255).
const maxBlocksPerAPDU = 15

// session speaks PC/SC Part 3 storage-card pseudo-APDUs to one card. It loads each key once,
// and reads and writes several blocks of a sector per command unless the reader refuses, when it
// falls back to one block per command for the rest of the session.
type session struct {
	tx     Transmitter
	loaded map[byte]Key
	single bool
	apdus  int
}

func newSession(tx Transmitter) *session { return &session{tx: tx, loaded: map[byte]Key{}} }

func (s *session) do(apdu []byte) ([]byte, uint16, error) {
	s.apdus++
	r, err := s.tx.Transmit(apdu)
	if err != nil {
		return nil, 0, err
	}
	if len(r) < 2 {
		return nil, 0, fmt.Errorf("response of %d bytes has no status word", len(r))
	}
	return r[:len(r)-2], uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1]), nil
}

func swError(op string, w uint16) error {
	switch w {
	case swDenied:
		return fmt.Errorf("%s: %w", op, errAccessDenied)
	}
	return fmt.Errorf("%s: status %04X", op, w)
}

func (s *session) uid() ([]byte, error) {
	d, w, err := s.do([]byte{0xFF, 0xCA, 0x00, 0x00, 0x00})
	if err != nil {
		return nil, fmt.Errorf("get UID: %w", err)
	}
	if w != swOK {
		return nil, swError("get UID", w)
	}
	if len(d) != 4 && len(d) != 7 {
		return nil, fmt.Errorf("get UID: %d bytes: %w", len(d), ErrWrongCardType)
	}
	return d, nil
}

func (s *session) load(slot byte, k Key) error {
	if cur, ok := s.loaded[slot]; ok && cur == k {
		return nil
	}
	apdu := append([]byte{0xFF, 0x82, 0x00, slot, 0x06}, k[:]...)
	_, w, err := s.do(apdu)
	if err != nil {
		return fmt.Errorf("load key: %w", err)
	}
	if w != swOK {
		return swError("load key", w)
	}
	s.loaded[slot] = k
	return nil
}

// auth authenticates sector with the key in slot; false (and no error) when the card says 63 00.
func (s *session) auth(sector int, kt KeyType, slot byte) (bool, error) {
	_, w, err := s.do([]byte{0xFF, 0x86, 0x00, 0x00, 0x05, 0x01, 0x00, byte(FirstBlock(sector)), byte(kt), slot})
	if err != nil {
		return false, fmt.Errorf("authenticate sector %d: %w", sector, err)
	}
	switch w {
	case swOK:
		return true, nil
	case swAuthFailed:
		return false, nil
	}
	return false, swError(fmt.Sprintf("authenticate sector %d", sector), w)
}

// refused reports a status word by which a reader says it does not take multi-block commands.
func refused(w uint16) bool {
	return w == swWrongLength || w == swBadP1P2 || w == swNoFunction || w&0xFF00 == 0x6C00
}

func (s *session) read(block, n int) ([]byte, error) {
	out := make([]byte, 0, n*BlockSize)
	for n > 0 {
		k := min(n, maxBlocksPerAPDU+1) // READ may take 16 blocks: Le 00 means 256 bytes
		if s.single {
			k = 1
		}
		d, w, err := s.do([]byte{0xFF, 0xB0, 0x00, byte(block), byte(k * BlockSize)})
		if err != nil {
			return nil, fmt.Errorf("read block %d: %w", block, err)
		}
		if k > 1 && (w != swOK && refused(w) || w == swOK && len(d) != k*BlockSize) {
			s.single = true // some readers answer a multi-block read with one block
			continue
		}
		if w != swOK {
			return nil, swError(fmt.Sprintf("read block %d", block), w)
		}
		if len(d) != k*BlockSize {
			return nil, fmt.Errorf("read block %d: %d bytes, want %d", block, len(d), k*BlockSize)
		}
		out = append(out, d...)
		block, n = block+k, n-k
	}
	return out, nil
}

func (s *session) write(block int, data []byte) error {
	for len(data) > 0 {
		k := min(len(data)/BlockSize, maxBlocksPerAPDU)
		if s.single {
			k = 1
		}
		apdu := append([]byte{0xFF, 0xD6, 0x00, byte(block), byte(k * BlockSize)}, data[:k*BlockSize]...)
		_, w, err := s.do(apdu)
		if err != nil {
			return fmt.Errorf("write block %d: %w", block, err)
		}
		if w != swOK && k > 1 && (refused(w) || w == swAuthFailed) {
			s.single = true // some readers answer 63 00 to a multi-block write
			continue
		}
		if w != swOK {
			return swError(fmt.Sprintf("write block %d", block), w)
		}
		block, data = block+k, data[k*BlockSize:]
	}
	return nil
}

// EncodeOptions change how Encode treats a card that is not blank.
type EncodeOptions struct {
	// ReuseReject allows overwriting a card that carries another card number: a reject that the
	// operator has put back to be re-used. Its old data is wiped.
	ReuseReject bool
}

// EncodeResult is what production records about an encoded chip.
type EncodeResult struct {
	UID []byte
	// APDUs is the number of commands sent for encoding and read-back together.
	APDUs int
	// Reused is true when the card carried data before and was wiped.
	Reused bool
}

// encodeCard writes r to the card behind tx and reads every written block back with the read
// keys, as a field reader would, checking bytes and signature. The card counts as good only when
// it returns without error.
func encodeCard(tx Transmitter, r Record, keys Keys, opt EncodeOptions) (EncodeResult, error) {
	if err := keys.Validate(); err != nil {
		return EncodeResult{}, err
	}
	if err := r.Validate(); err != nil {
		return EncodeResult{}, err
	}
	s := newSession(tx)
	res, err := encodeSession(s, r, keys, opt)
	res.APDUs = s.apdus
	return res, err
}

func encodeSession(s *session, r Record, keys Keys, opt EncodeOptions) (EncodeResult, error) {
	var res EncodeResult
	uid, err := s.uid()
	if err != nil {
		return res, err
	}
	res.UID = uid
	img, err := Plan(r, uid, keys, false)
	if err != nil {
		return res, err
	}
	if err := s.load(slotTransport, TransportKey()); err != nil {
		return res, err
	}
	// Probe with the first sector to be written: on a blank card that authentication is reused.
	first := img.Writes[0].Sector
	blank, err := s.auth(first, KeyA, slotTransport)
	if err != nil {
		return res, err
	}
	if !blank {
		prior, perr := readApplication(s, uid, keys.Verifier(), false)
		if perr == nil && prior.CardNumber != r.CardNumber && !opt.ReuseReject {
			return res, &AlreadyEncodedError{UID: uid, CardNumber: prior.CardNumber}
		}
		res.Reused = true
		if img, err = Plan(r, uid, keys, true); err != nil {
			return res, err
		}
	}
	if err := img.Validate(); err != nil {
		return res, err
	}
	writeKey, err := keys.WriteKey(uid)
	if err != nil {
		return res, err
	}
	for i, w := range img.Writes {
		opened := blank && i == 0
		if !opened {
			if opened, err = s.auth(w.Sector, KeyA, slotTransport); err != nil {
				return res, err
			}
		}
		if !opened {
			if err := s.load(slotWrite, writeKey); err != nil {
				return res, err
			}
			if opened, err = s.auth(w.Sector, KeyB, slotWrite); err != nil {
				return res, err
			}
			if opened && w.Start == TrailerBlock(w.Sector) && w.Sector != 0 {
				// A sector that already had our keys may hold data of an earlier attempt: wipe it.
				w.Start = FirstBlock(w.Sector)
				w.Data = append(make([]byte, dataCapacity(w.Sector)), w.Data...)
				img.Writes[i] = w
			}
		}
		if !opened {
			return res, fmt.Errorf("sector %d opens neither with the transport key nor with this card's key B: %w", w.Sector, ErrWrongKeys)
		}
		if err := s.write(w.Start, w.Data); err != nil {
			return res, fmt.Errorf("sector %d: %w", w.Sector, err)
		}
	}
	return res, verifyImage(s, img, keys, r)
}

// verifyImage reads back every written block with the keys a field reader has (the read key for
// data sectors, the MAD key for the directory), compares it with what was written, then decodes
// the application from what was read, as a field reader would, and checks the signature.
func verifyImage(s *session, img *Image, keys Keys, r Record) error {
	cache := map[int][]byte{}
	for _, w := range img.Writes {
		slot := slotRead
		if w.ReadKey == MADKey() {
			slot = slotMAD
		}
		if err := s.load(slot, w.ReadKey); err != nil {
			return err
		}
		ok, err := s.auth(w.Sector, KeyA, slot)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("sector %d does not open with its new key A: %w", w.Sector, ErrWriteNotStuck)
		}
		got, err := s.read(w.Start, len(w.Data)/BlockSize)
		if err != nil {
			return fmt.Errorf("read back sector %d: %w", w.Sector, err)
		}
		n := len(w.Data) - BlockSize
		if !bytes.Equal(got[:n], w.Data[:n]) {
			return fmt.Errorf("sector %d data: %w", w.Sector, ErrWriteNotStuck)
		}
		if !verifyTrailer(got[n:], w.Data[n:]) {
			return fmt.Errorf("sector %d trailer: %w", w.Sector, ErrWriteNotStuck)
		}
		full := make([]byte, SectorBlocks(w.Sector)*BlockSize)
		copy(full[(w.Start-FirstBlock(w.Sector))*BlockSize:], got)
		cache[w.Sector] = full
	}
	fetch := func(sector int, _ Key) ([]byte, error) {
		if b, ok := cache[sector]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("sector %d was not written", sector)
	}
	p, err := parseApplication(fetch, img.UID, keys.Verifier(), true)
	if err != nil {
		return fmt.Errorf("decode read-back: %w", err)
	}
	if !sameRecord(p.Record, r) {
		return fmt.Errorf("decoded record differs from the one written: %w", ErrWriteNotStuck)
	}
	return nil
}

func sameRecord(a, b Record) bool {
	a.BirthDate, a.Expiry = dateOf(a.BirthDate), dateOf(a.Expiry)
	b.BirthDate, b.Expiry = dateOf(b.BirthDate), dateOf(b.Expiry)
	return a == b
}

// readApplication reads the card's application as a field reader does: the MAD with the public
// MAD key, then the application's sectors with the read key. verify checks the signature.
func readApplication(s *session, uid []byte, v Verifier, verify bool) (ParsedRecord, error) {
	fetch := func(sector int, key Key) ([]byte, error) {
		slot := slotRead
		if key == MADKey() {
			slot = slotMAD
		}
		if err := s.load(slot, key); err != nil {
			return nil, err
		}
		ok, err := s.auth(sector, KeyA, slot)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("sector %d: %w", sector, ErrWrongKeys)
		}
		start := FirstBlock(sector)
		if sector == 0 {
			start = 1 // block 0 is the manufacturer's
		}
		b, err := s.read(start, TrailerBlock(sector)-start+1)
		if err != nil {
			return nil, err
		}
		return append(make([]byte, (start-FirstBlock(sector))*BlockSize), b...), nil
	}
	p, err := parseApplication(fetch, uid, v, verify)
	if errors.Is(err, ErrWrongKeys) {
		// A blank card does not open with the MAD key; say so rather than "wrong keys".
		if lerr := s.load(slotTransport, TransportKey()); lerr == nil {
			if ok, _ := s.auth(0, KeyA, slotTransport); ok {
				return p, fmt.Errorf("%w: blank card (transport keys)", ErrNotEncoded)
			}
		}
	}
	return p, err
}

// parseApplication walks MAD1, MAD2 and the application's sectors through fetch, which returns
// a whole sector (trailer last) opened with the given key A.
func parseApplication(fetch func(sector int, key Key) ([]byte, error), uid []byte, v Verifier, verify bool) (ParsedRecord, error) {
	s0, err := fetch(0, MADKey())
	if err != nil {
		return ParsedRecord{}, fmt.Errorf("read MAD sector 0: %w", err)
	}
	gpb := s0[3*BlockSize+9]
	var mad2 []byte
	if gpb&0x03 == 0x02 {
		s16, err := fetch(16, MADKey())
		if err != nil {
			return ParsedRecord{}, fmt.Errorf("read MAD sector 16: %w", err)
		}
		mad2 = s16[:3*BlockSize]
	}
	secs, err := parseMAD(gpb, s0[BlockSize:3*BlockSize], mad2)
	if err != nil {
		return ParsedRecord{}, err
	}
	var stream []byte
	for _, sec := range secs {
		b, err := fetch(sec, v.ReadKey)
		if err != nil {
			return ParsedRecord{}, fmt.Errorf("read application sector %d: %w", sec, err)
		}
		stream = append(stream, b[:dataCapacity(sec)]...)
	}
	keys := v.PublicKeys
	if !verify {
		keys = nil
	}
	return ParseRecord(stream, uid, keys)
}
