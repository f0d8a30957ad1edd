package encoder

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
	"unicode/utf8"
)

// Geometry of MIFARE Classic 4K: sectors 0-31 have 4 blocks, sectors 32-39 have 16; the last block
// of each sector is its trailer (keys and access bits).
const (
	Sectors   = 40
	Blocks    = 256
	BlockSize = 16
)

// SectorBlocks is the number of blocks of sector s.
func SectorBlocks(s int) int {
	if s < 32 {
		return 4
	}
	return 16
}

// FirstBlock is the number of the first block of sector s.
func FirstBlock(s int) int {
	if s < 32 {
		return s * 4
	}
	return 128 + (s-32)*16
}

// TrailerBlock is the number of the trailer block of sector s.
func TrailerBlock(s int) int { return FirstBlock(s) + SectorBlocks(s) - 1 }

// SectorOf is the sector holding block b.
func SectorOf(b int) int {
	if b < 128 {
		return b / 4
	}
	return 32 + (b-128)/16
}

// isMADSector reports whether sector s holds the MIFARE Application Directory on a 4K card.
func isMADSector(s int) bool { return s == 0 || s == 16 }

// AppID is cardline's MAD application identifier: function cluster 0x51 (access control and
// security) and application code 0x48 ('H'). It is not registered with NXP yet; register it (or
// substitute the registered one here) before cards go into the field.
const AppID uint16 = 0x5148

// Record format constants (see the package documentation for the whole layout).
const (
	recordMagic0    = 'H'
	recordMagic1    = 'K'
	RecordVersion   = 1
	recordHeaderLen = 6
	crcLen          = 4
	signatureDomain = "cardline HMS-kort chip record v1\x00"
)

// Tags of the record's fields.
const (
	tagCardNumber = 0x01
	tagGivenName  = 0x02
	tagFamilyName = 0x03
	tagBirthDate  = 0x04
	tagGender     = 0x05
	tagOrgNumber  = 0x06
	tagOrgName    = 0x07
	tagExpiry     = 0x08
	tagCardType   = 0x09
)

// Errors a reader of the chip can meet.
var (
	ErrNotEncoded         = errors.New("card carries no cardline application")
	ErrCorruptRecord      = errors.New("corrupt chip record")
	ErrUnsupportedVersion = errors.New("unsupported chip record version")
	ErrBadSignature       = errors.New("chip record signature does not verify (cloned or edited card)")
	ErrUnknownSigningKey  = errors.New("chip record signed with an unknown key id")
)

// MarshalRecord returns the signed record stream for the card with this UID: header, fields, CRC
// and Ed25519 signature, unpadded.
func MarshalRecord(r Record, uid []byte, keys Keys) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := keys.Validate(); err != nil {
		return nil, err
	}
	var body []byte
	tlv := func(tag byte, v []byte) {
		body = append(body, tag)
		switch n := len(v); {
		case n < 0x80:
			body = append(body, byte(n))
		case n < 0x100:
			body = append(body, 0x81, byte(n))
		default:
			body = append(body, 0x82, byte(n>>8), byte(n))
		}
		body = append(body, v...)
	}
	ct, _ := cardTypeCode(r.CardType)
	tlv(tagCardNumber, []byte(r.CardNumber))
	tlv(tagGivenName, []byte(r.GivenName))
	tlv(tagFamilyName, []byte(r.FamilyName))
	tlv(tagBirthDate, bcdDate(r.BirthDate))
	tlv(tagGender, []byte(r.Gender))
	tlv(tagOrgNumber, []byte(r.OrgNumber))
	tlv(tagOrgName, []byte(r.OrgName))
	tlv(tagExpiry, bcdDate(r.Expiry))
	tlv(tagCardType, []byte{ct})
	if len(body) > 0xFFFF {
		return nil, fmt.Errorf("%w: record too long", ErrInvalidRecord)
	}
	out := []byte{recordMagic0, recordMagic1, RecordVersion, keys.KeyID, byte(len(body) >> 8), byte(len(body))}
	out = append(out, body...)
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out))
	out = append(out, ed25519.Sign(keys.SigningKey, signedMessage(uid, out))...)
	return out, nil
}

// signedMessage binds the record to the chip's UID, so that a copy on another chip fails.
func signedMessage(uid, record []byte) []byte {
	m := make([]byte, 0, len(signatureDomain)+1+len(uid)+len(record))
	m = append(m, signatureDomain...)
	m = append(m, byte(len(uid)))
	m = append(m, uid...)
	return append(m, record...)
}

// ParsedRecord is a record read from a chip, with what a verifier needs to know about it.
type ParsedRecord struct {
	Record
	Version byte
	KeyID   byte
	// Verified is true when the signature was checked against a known public key.
	Verified bool
}

// ParseRecord decodes a record stream (trailing zero padding allowed). It checks magic, version,
// lengths and CRC; when keys is non-nil it also checks the signature over uid and the record.
// Fields with unknown tags are skipped, so a reader of v1 reads later additions of v1.
func ParseRecord(stream, uid []byte, publicKeys map[byte]ed25519.PublicKey) (ParsedRecord, error) {
	var p ParsedRecord
	if len(stream) < recordHeaderLen {
		return p, fmt.Errorf("%w: %d bytes", ErrCorruptRecord, len(stream))
	}
	if stream[0] != recordMagic0 || stream[1] != recordMagic1 {
		return p, fmt.Errorf("%w: bad magic % X", ErrCorruptRecord, stream[:2])
	}
	p.Version, p.KeyID = stream[2], stream[3]
	if p.Version != RecordVersion {
		return p, fmt.Errorf("%w: %d", ErrUnsupportedVersion, p.Version)
	}
	n := int(binary.BigEndian.Uint16(stream[4:6]))
	end := recordHeaderLen + n
	if len(stream) < end+crcLen+ed25519.SignatureSize {
		return p, fmt.Errorf("%w: record of %d bytes runs past the data (%d bytes)", ErrCorruptRecord, n, len(stream))
	}
	if got, want := binary.BigEndian.Uint32(stream[end:]), crc32.ChecksumIEEE(stream[:end]); got != want {
		return p, fmt.Errorf("%w: CRC %08X, computed %08X", ErrCorruptRecord, got, want)
	}
	seen := map[byte]bool{}
	for body := stream[recordHeaderLen:end]; len(body) > 0; {
		tag, v, rest, err := nextTLV(body)
		if err != nil {
			return p, err
		}
		body = rest
		if seen[tag] {
			return p, fmt.Errorf("%w: field %#02x twice", ErrCorruptRecord, tag)
		}
		seen[tag] = true
		if err := p.setField(tag, v); err != nil {
			return p, err
		}
	}
	for _, tag := range []byte{tagCardNumber, tagGivenName, tagFamilyName, tagBirthDate, tagGender, tagOrgNumber, tagOrgName, tagExpiry, tagCardType} {
		if !seen[tag] {
			return p, fmt.Errorf("%w: field %#02x missing", ErrCorruptRecord, tag)
		}
	}
	if err := p.Record.Validate(); err != nil {
		return p, fmt.Errorf("%w: %v", ErrCorruptRecord, err)
	}
	if publicKeys == nil {
		return p, nil
	}
	pub, ok := publicKeys[p.KeyID]
	if !ok {
		return p, fmt.Errorf("%w: %d", ErrUnknownSigningKey, p.KeyID)
	}
	signed := stream[:end+crcLen]
	sig := stream[end+crcLen : end+crcLen+ed25519.SignatureSize]
	if !ed25519.Verify(pub, signedMessage(uid, signed), sig) {
		return p, fmt.Errorf("card %s UID % X: %w", p.CardNumber, uid, ErrBadSignature)
	}
	p.Verified = true
	return p, nil
}

func nextTLV(b []byte) (tag byte, v, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, fmt.Errorf("%w: truncated field", ErrCorruptRecord)
	}
	tag, n, hdr := b[0], int(b[1]), 2
	switch {
	case b[1] == 0x81 && len(b) >= 3:
		n, hdr = int(b[2]), 3
	case b[1] == 0x82 && len(b) >= 4:
		n, hdr = int(b[2])<<8|int(b[3]), 4
	case b[1] >= 0x80:
		return 0, nil, nil, fmt.Errorf("%w: bad field length %#02x", ErrCorruptRecord, b[1])
	}
	if len(b) < hdr+n {
		return 0, nil, nil, fmt.Errorf("%w: field %#02x runs past the record", ErrCorruptRecord, tag)
	}
	return tag, b[hdr : hdr+n], b[hdr+n:], nil
}

func (p *ParsedRecord) setField(tag byte, v []byte) error {
	str := func() (string, error) {
		if !utf8.Valid(v) {
			return "", fmt.Errorf("%w: field %#02x not UTF-8", ErrCorruptRecord, tag)
		}
		return string(v), nil
	}
	var err error
	switch tag {
	case tagCardNumber:
		p.CardNumber, err = str()
	case tagGivenName:
		p.GivenName, err = str()
	case tagFamilyName:
		p.FamilyName, err = str()
	case tagGender:
		p.Gender, err = str()
	case tagOrgNumber:
		p.OrgNumber, err = str()
	case tagOrgName:
		p.OrgName, err = str()
	case tagBirthDate:
		p.BirthDate, err = parseBCDDate(v)
	case tagExpiry:
		p.Expiry, err = parseBCDDate(v)
	case tagCardType:
		if len(v) != 1 {
			return fmt.Errorf("%w: card type length %d", ErrCorruptRecord, len(v))
		}
		var ok bool
		if p.CardType, ok = cardTypeName(v[0]); !ok {
			return fmt.Errorf("%w: card type code %d", ErrCorruptRecord, v[0])
		}
	}
	return err
}

// bcdDate is YYYYMMDD in four BCD bytes: readable in any hex dump of the card.
func bcdDate(t time.Time) []byte {
	y, m, d := t.Date()
	bcd := func(n int) byte { return byte(n/10)<<4 | byte(n%10) }
	return []byte{bcd(y / 100), bcd(y % 100), bcd(int(m)), bcd(d)}
}

func parseBCDDate(v []byte) (time.Time, error) {
	if len(v) != 4 {
		return time.Time{}, fmt.Errorf("%w: date of %d bytes", ErrCorruptRecord, len(v))
	}
	n := make([]int, 4)
	for i, b := range v {
		if b>>4 > 9 || b&0xf > 9 {
			return time.Time{}, fmt.Errorf("%w: date % X is not BCD", ErrCorruptRecord, v)
		}
		n[i] = int(b>>4)*10 + int(b&0xf)
	}
	y, m, d := n[0]*100+n[1], n[2], n[3]
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if m < 1 || m > 12 || t.Day() != d {
		return time.Time{}, fmt.Errorf("%w: date % X does not exist", ErrCorruptRecord, v)
	}
	return t, nil
}

// dataCapacity is the bytes a sector holds outside its trailer.
func dataCapacity(s int) int { return (SectorBlocks(s) - 1) * BlockSize }

// planSectors picks the data sectors for n bytes: as few sectors as possible (so as few
// authentications as possible), the big sectors 32-39 first, then 1-15 and 17-31. The record
// stream runs through the chosen sectors in ascending order, as MAD readers concatenate them.
func planSectors(n int) ([]int, error) {
	order := []int{32, 33, 34, 35, 36, 37, 38, 39}
	for s := 1; s < 32; s++ {
		if s != 16 {
			order = append(order, s)
		}
	}
	var chosen []bool = make([]bool, Sectors)
	for _, s := range order {
		if n <= 0 {
			break
		}
		chosen[s] = true
		n -= dataCapacity(s)
	}
	if n > 0 {
		return nil, fmt.Errorf("%w: record longer than the chip", ErrInvalidRecord)
	}
	var out []int
	for s, c := range chosen {
		if c {
			out = append(out, s)
		}
	}
	return out, nil
}

// madCRC is the CRC-8 of AN10787: polynomial x^8+x^4+x^3+x^2+1, preset 0xC7.
func madCRC(b []byte) byte {
	crc := byte(0xC7)
	for _, x := range b {
		crc ^= x
		for i := 0; i < 8; i++ {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x1D
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// buildMAD returns MAD1 (32 bytes: sector 0 blocks 1-2) and MAD2 (48 bytes: sector 16 blocks
// 64-66) with AppID in the given sectors and every other sector free. Each AID is stored
// application code first, then function cluster code.
func buildMAD(sectors []int) (mad1, mad2 []byte) {
	mad1 = make([]byte, 32)
	mad2 = make([]byte, 48)
	for _, s := range sectors {
		switch {
		case s >= 1 && s <= 15:
			mad1[2*s], mad1[2*s+1] = byte(AppID&0xFF), byte(AppID>>8)
		case s >= 17 && s <= 39:
			i := 2 + 2*(s-17)
			mad2[i], mad2[i+1] = byte(AppID&0xFF), byte(AppID>>8)
		}
	}
	mad1[0] = madCRC(mad1[1:])
	mad2[0] = madCRC(mad2[1:])
	return mad1, mad2
}

// parseMAD returns the sectors that MAD1 and MAD2 give to AppID, checking both CRCs. gpb is the
// general purpose byte of sector 0's trailer, which says whether a MAD (and which version) is there.
func parseMAD(gpb byte, mad1, mad2 []byte) ([]int, error) {
	if gpb&0x80 == 0 {
		return nil, fmt.Errorf("%w: no MAD (GPB %02X)", ErrNotEncoded, gpb)
	}
	if len(mad1) != 32 || madCRC(mad1[1:]) != mad1[0] {
		return nil, fmt.Errorf("%w: MAD1 CRC mismatch", ErrNotEncoded)
	}
	var out []int
	for s := 1; s <= 15; s++ {
		if uint16(mad1[2*s])|uint16(mad1[2*s+1])<<8 == AppID {
			out = append(out, s)
		}
	}
	if gpb&0x03 == 0x02 {
		if len(mad2) != 48 || madCRC(mad2[1:]) != mad2[0] {
			return nil, fmt.Errorf("%w: MAD2 CRC mismatch", ErrNotEncoded)
		}
		for s := 17; s <= 39; s++ {
			i := 2 + 2*(s-17)
			if uint16(mad2[i])|uint16(mad2[i+1])<<8 == AppID {
				out = append(out, s)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: MAD lists no sector for application %04X", ErrNotEncoded, AppID)
	}
	return out, nil
}

// madGPB is the general purpose byte of sector 0: MAD available, multi-application card, MAD v2.
const madGPB = 0xC2

// SectorWrite is what the encoder writes into one sector: Data goes to consecutive blocks from
// Start, the trailer last; Key is the key A that opens the sector for reading afterwards.
type SectorWrite struct {
	Sector  int
	Start   int
	Data    []byte // whole blocks, trailer included as the last block
	ReadKey Key
}

// Image is the planned content of a card: every sector's write, in the order they are written
// (data sectors first, the MAD sectors 16 and 0 last, so that a torn card never advertises data it
// does not hold), and the sectors of the application.
type Image struct {
	UID     []byte
	Writes  []SectorWrite
	AppSecs []int
	Record  []byte
}

// Plan lays r out on the card with this UID. wipe also zeroes the data blocks of sectors the
// application does not use (for a card that carried data before); on a blank card only their
// trailers are written.
func Plan(r Record, uid []byte, keys Keys, wipe bool) (*Image, error) {
	rec, err := MarshalRecord(r, uid, keys)
	if err != nil {
		return nil, err
	}
	secs, err := planSectors(len(rec))
	if err != nil {
		return nil, err
	}
	writeKey, err := keys.WriteKey(uid)
	if err != nil {
		return nil, err
	}
	access, err := (AccessBits{DataReadABWriteB, DataReadABWriteB, DataReadABWriteB, TrailerKeyBOwns}).Encode()
	if err != nil {
		return nil, err
	}
	trailer := func(a Key, gpb byte) []byte {
		t := make([]byte, 0, 16)
		t = append(t, a[:]...)
		t = append(t, access[:]...)
		t = append(t, gpb)
		return append(t, writeKey[:]...)
	}
	img := &Image{UID: append([]byte(nil), uid...), AppSecs: secs, Record: rec}
	used := make([]bool, Sectors)
	for _, s := range secs {
		used[s] = true
	}
	stream := rec
	for s := 1; s < Sectors; s++ {
		if isMADSector(s) {
			continue
		}
		w := SectorWrite{Sector: s, ReadKey: keys.ReadKey}
		switch {
		case used[s]:
			data := make([]byte, dataCapacity(s))
			stream = stream[copy(data, stream):]
			w.Start, w.Data = FirstBlock(s), append(data, trailer(keys.ReadKey, 0)...)
		case wipe:
			w.Start, w.Data = FirstBlock(s), append(make([]byte, dataCapacity(s)), trailer(keys.ReadKey, 0)...)
		default:
			w.Start, w.Data = TrailerBlock(s), trailer(keys.ReadKey, 0)
		}
		img.Writes = append(img.Writes, w)
	}
	mad1, mad2 := buildMAD(secs)
	img.Writes = append(img.Writes,
		SectorWrite{Sector: 16, Start: FirstBlock(16), Data: append(mad2, trailer(MADKey(), 0)...), ReadKey: MADKey()},
		SectorWrite{Sector: 0, Start: 1, Data: append(mad1, trailer(MADKey(), madGPB)...), ReadKey: MADKey()},
	)
	return img, nil
}

// Validate checks every trailer the image would write before anything is written: a valid
// access-bit pattern (an invalid one blocks a real sector for ever), conditions that keep the
// sector writable with key B, and no transport key left.
func (img *Image) Validate() error {
	for _, w := range img.Writes {
		if len(w.Data) == 0 || len(w.Data)%BlockSize != 0 || w.Start+len(w.Data)/BlockSize-1 != TrailerBlock(w.Sector) {
			return fmt.Errorf("sector %d: write does not end with the trailer", w.Sector)
		}
		t := w.Data[len(w.Data)-BlockSize:]
		acc, err := DecodeAccessBits([3]byte{t[6], t[7], t[8]})
		if err != nil {
			return fmt.Errorf("sector %d: refusing to write: %w", w.Sector, err)
		}
		if r := trailerRightsFor(acc[3], KeyB); !r.writeKeyA || !r.writeAccess || !r.writeKeyB {
			return fmt.Errorf("sector %d: refusing to write a trailer that key B could not rewrite", w.Sector)
		}
		if Key(t[0:6]) == TransportKey() || Key(t[10:16]) == TransportKey() {
			return fmt.Errorf("sector %d: refusing to leave a transport key", w.Sector)
		}
	}
	return nil
}

// verifyTrailer compares a trailer as read back with the one written. Keys read back as zeros (key
// A always, key B under cardline's conditions), so only access bits and GPB can be compared; that
// the sector opened with its new key A proves key A.
func verifyTrailer(read, written []byte) bool {
	return bytes.Equal(read[6:10], written[6:10])
}
