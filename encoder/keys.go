package encoder

import (
	"crypto/aes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Key is a 6-byte MIFARE Classic sector key.
type Key [6]byte

// TransportKey is the key A and B that blank MIFARE Classic cards ship with.
func TransportKey() Key { return Key{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF} }

// MADKey is the public key A of the MAD sectors (0 and 16), fixed by NXP AN10787 so that any
// reader can find the applications on a card.
func MADKey() Key { return Key{0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5} }

// String hides the key: keys are never logged.
func (k Key) String() string { return "Key(redacted)" }

// Keys are the secrets of an encoder station. Rule: a Keys value is usable only after Validate
// (non-trivial read key, 16-byte AES master key, an Ed25519 signing key); it prints and logs as
// redacted, never as its material.
type Keys struct {
	// ReadKey is key A of the data sectors: the one access systems are given.
	ReadKey Key
	// MasterKey is the AES-128 key from which each card's key B is diversified by its UID.
	MasterKey []byte
	// SigningKey signs each card's record; access systems hold its public half.
	SigningKey ed25519.PrivateKey
	// KeyID names the signing key on the card (1..255) so that access systems can rotate keys.
	KeyID byte
}

// ErrBadKeys means key material is missing, malformed or trivial.
var ErrBadKeys = errors.New("bad key material")

// Validate checks the key material.
func (k Keys) Validate() error {
	if k.ReadKey == TransportKey() || k.ReadKey == MADKey() || k.ReadKey == (Key{}) {
		return fmt.Errorf("%w: read key must not be a transport, MAD or zero key", ErrBadKeys)
	}
	if len(k.MasterKey) != 16 {
		return fmt.Errorf("%w: master key must be 16 bytes (AES-128), got %d", ErrBadKeys, len(k.MasterKey))
	}
	if len(k.SigningKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: signing key must be an Ed25519 key", ErrBadKeys)
	}
	if k.KeyID == 0 {
		return fmt.Errorf("%w: key id must be 1..255", ErrBadKeys)
	}
	return nil
}

// Verifier returns what an access system holds: the read key and the public key.
func (k Keys) Verifier() Verifier {
	return Verifier{ReadKey: k.ReadKey, PublicKeys: map[byte]ed25519.PublicKey{k.KeyID: k.SigningKey.Public().(ed25519.PublicKey)}}
}

// String and LogValue keep key material out of output and logs.
func (k Keys) String() string { return "encoder.Keys(redacted)" }

// LogValue implements slog.LogValuer.
func (k Keys) LogValue() slog.Value { return slog.StringValue("redacted") }

// Verifier is what a field reader (access system, time clock, `cardline chip read`) needs to read
// and check a card: the read key and the public signing keys by key id.
type Verifier struct {
	ReadKey    Key
	PublicKeys map[byte]ed25519.PublicKey
}

// WriteKey returns the card's key B: diversified from the master key by the UID (see
// DiversifyKey), so that one card's key B opens no other card.
func (k Keys) WriteKey(uid []byte) (Key, error) {
	return DiversifyKey(k.MasterKey, uid)
}

// systemIdentifier goes into every diversification input: it binds the keys to this scheme.
const systemIdentifier = "HMSKORT"

// DiversifyKey derives a card's 6-byte key B from an AES-128 master key and the card UID, in the
// way of NXP AN10922 for AES-128: the CMAC under the master key of 0x01 || UID || AID ||
// "HMSKORT", padded to two AES blocks, truncated to its first 6 bytes. A result that equals a
// transport or MAD key is refused (probability 2^-47, but a card locked with a public key is not
// locked).
func DiversifyKey(master, uid []byte) (Key, error) {
	if len(uid) != 4 && len(uid) != 7 {
		return Key{}, fmt.Errorf("diversify key: UID must be 4 or 7 bytes, got %d", len(uid))
	}
	m := make([]byte, 0, 32)
	m = append(m, 0x01)
	m = append(m, uid...)
	m = append(m, byte(AppID>>8), byte(AppID&0xFF))
	m = append(m, systemIdentifier...)
	mac, err := an10922CMAC(master, m)
	if err != nil {
		return Key{}, fmt.Errorf("diversify key: %w", err)
	}
	var k Key
	copy(k[:], mac[:6])
	if k == TransportKey() || k == MADKey() || k == (Key{}) {
		return Key{}, fmt.Errorf("diversify key: derived key is a well-known key; use another master key")
	}
	return k, nil
}

// an10922CMAC is AES-CMAC (RFC 4493) with AN10922's padding rule: input shorter than 32 bytes is
// padded with 0x80 00… to 32 bytes and then counts as padded (subkey K2).
func an10922CMAC(key, d []byte) ([16]byte, error) {
	if len(d) > 32 {
		return [16]byte{}, fmt.Errorf("diversification input longer than 32 bytes")
	}
	if len(d) < 32 {
		p := make([]byte, 32)
		copy(p, d)
		p[len(d)] = 0x80
		return cmacRaw(key, p, true)
	}
	return cmacRaw(key, d, false)
}

// cmac is AES-CMAC per RFC 4493.
func cmac(key, msg []byte) ([16]byte, error) {
	if len(msg) > 0 && len(msg)%16 == 0 {
		return cmacRaw(key, msg, false)
	}
	p := make([]byte, (len(msg)/16+1)*16)
	copy(p, msg)
	p[len(msg)] = 0x80
	return cmacRaw(key, p, true)
}

// cmacRaw runs CBC-MAC over msg (a multiple of 16 bytes), XOR-ing the last block with K2 when
// padded and K1 otherwise.
func cmacRaw(key, msg []byte, padded bool) ([16]byte, error) {
	var out [16]byte
	c, err := aes.NewCipher(key)
	if err != nil {
		return out, err
	}
	var l, k1, k2 [16]byte
	c.Encrypt(l[:], l[:])
	shiftXor := func(dst, src *[16]byte) {
		msb := src[0] >> 7
		for i := 0; i < 15; i++ {
			dst[i] = src[i]<<1 | src[i+1]>>7
		}
		dst[15] = src[15] << 1
		dst[15] ^= byte(subtle.ConstantTimeByteEq(msb, 1)) * 0x87
	}
	shiftXor(&k1, &l)
	shiftXor(&k2, &k1)
	sub := k1
	if padded {
		sub = k2
	}
	var x [16]byte
	for i := 0; i < len(msg); i += 16 {
		for j := 0; j < 16; j++ {
			x[j] ^= msg[i+j]
			if i+16 == len(msg) {
				x[j] ^= sub[j]
			}
		}
		c.Encrypt(x[:], x[:])
	}
	return x, nil
}

// ParseKey reads a 6-byte key written as 12 hex digits (spaces and colons allowed).
func ParseKey(s string) (Key, error) {
	b, err := parseHex(s)
	if err != nil {
		return Key{}, err
	}
	if len(b) != 6 {
		return Key{}, fmt.Errorf("%w: a MIFARE key is 6 bytes, got %d", ErrBadKeys, len(b))
	}
	var k Key
	copy(k[:], b)
	return k, nil
}

// ParseKeys builds Keys from the hex strings of configuration: the Ed25519 signing key (32-byte
// seed or 64-byte private key), the 16-byte AES master key and the 6-byte read key.
func ParseKeys(signingHex, masterHex, readHex string) (Keys, error) {
	var k Keys
	sk, err := parseHex(signingHex)
	if err != nil {
		return k, fmt.Errorf("signing key: %w", err)
	}
	switch len(sk) {
	case ed25519.SeedSize:
		k.SigningKey = ed25519.NewKeyFromSeed(sk)
	case ed25519.PrivateKeySize:
		k.SigningKey = ed25519.PrivateKey(sk)
	default:
		return k, fmt.Errorf("%w: signing key must be a 32-byte seed or 64-byte key", ErrBadKeys)
	}
	if k.MasterKey, err = parseHex(masterHex); err != nil {
		return k, fmt.Errorf("master key: %w", err)
	}
	if k.ReadKey, err = ParseKey(readHex); err != nil {
		return k, fmt.Errorf("read key: %w", err)
	}
	k.KeyID = 1
	return k, k.Validate()
}

func parseHex(s string) ([]byte, error) {
	s = strings.NewReplacer(" ", "", ":", "", "\n", "").Replace(strings.TrimSpace(s))
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadKeys)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not hex", ErrBadKeys)
	}
	return b, nil
}

// DevKeys returns deterministic DEVELOPMENT keys derived from a fixed label. They are public (this
// source is their only secret): for tests and the demo only, never for cards that leave the line.
func DevKeys() Keys {
	seed := sha256.Sum256([]byte("cardline DEVELOPMENT signing key - not for production"))
	master := sha256.Sum256([]byte("cardline DEVELOPMENT master key - not for production"))
	return Keys{
		ReadKey:    Key{0xD3, 0xF7, 0xD3, 0xF7, 0xD3, 0xF7},
		MasterKey:  master[:16],
		SigningKey: ed25519.NewKeyFromSeed(seed[:]),
		KeyID:      0xDE,
	}
}
