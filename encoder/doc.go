// Package encoder is the card's contactless chip and magnetic stripe: the industry coding on a
// MIFARE Classic 4K chip, its keys, encoding through PC/SC with read-back verification, the
// magnetic-stripe tracks, and the virtual card (a vpcd card emulator and a private pcscd) that
// tests and the demo use in place of a real coupler.
//
// # Chip layout, version 1
//
// The card's data is one application registered in the MIFARE Application Directory, version 2
// (NXP AN10787), with application id AppID (function cluster 0x51 "access control and
// security", application code 0x48; stored application code first: 48 51). Sector 0 holds MAD1
// (blocks 1-2) and its trailer's general purpose byte is C2 (MAD present, multi-application,
// MAD2); sector 16 holds MAD2 (blocks 64-66). Both MAD CRCs are AN10787's CRC-8 (polynomial 0x1D,
// preset 0xC7). Sectors not used by the application are marked free (00 00).
//
// The application's data is a byte stream through its sectors' data blocks (trailers skipped),
// in ascending sector order. cardline fills the big sectors 32-39 first (240 bytes each, one
// authentication each), then 1-15 and 17-31 (48 bytes each); a typical record fits sector 32.
// The stream is, big-endian throughout:
//
//	offset  size  field
//	0       2     magic "HK" (48 4B)
//	2       1     format version, 1
//	3       1     signing key id (1-255): which public key verifies the signature
//	4       2     body length L
//	6       L     body: fields as tag, length, value
//	6+L     4     CRC-32 (IEEE 802.3) of bytes 0 .. 6+L-1
//	10+L    64    Ed25519 signature
//	…             zero padding to the end of the last sector
//
// A field's length is one byte below 0x80, else 81 LL or 82 HH LL (BER-TLV style). Fields, each
// exactly once, in this order when cardline writes them (readers must accept any order and skip
// unknown tags, which later minor additions may bring):
//
//	01 card number         10 ASCII digits
//	02 given name          UTF-8, in full (up to MaxRunes runes, never truncated)
//	03 family name         UTF-8, in full
//	04 date of birth       4 bytes BCD YYYYMMDD
//	05 gender              1 ASCII byte: M, F or X
//	06 organisation number 9 ASCII digits
//	07 organisation name   UTF-8, in full
//	08 expiry date         4 bytes BCD YYYYMMDD
//	09 card type           1 byte: 1 construction, 2 cleaning, 3 transport
//
// The signature is Ed25519 over "cardline HMS-kort chip record v1" || 00 || UID length (1 byte)
// || UID || stream bytes 0 .. 10+L-1 (header, body and CRC). Binding the chip's UID means a copy
// of the data onto another chip fails verification, as does any edited byte, and an access
// system with the public key needs no network to tell. The CRC lets readers without crypto
// reject a torn or corrupt record cheaply.
//
// # Keys and access bits
//
// Every sector trailer is rewritten at encoding; none stays at transport keys. Data sectors (used
// or free): key A is the read key (given to access systems), key B the card's write key. The MAD
// sectors: key A is AN10787's public MAD key A0 A1 A2 A3 A4 A5, key B the write key. All use access
// bits 78 77 88: data blocks readable with A or B and writable only with B; the trailer's keys and
// access bits writable only with B, key B never readable (so it serves for authentication). The
// write key is diversified per card from a 16-byte AES master key in the way of NXP AN10922:
// AES-CMAC(master, 01 || UID || 51 48 || "HMSKORT"), padded to 32 bytes, first 6 bytes. Access
// bits are only ever written through AccessBits.Encode, which cannot produce an invalid pattern
// (an invalid one blocks a real card's sector for ever).
//
// # Encoding
//
// Station.Encode waits for a card, checks the ATR (MIFARE Classic 4K through a PC/SC Part 3
// reader), reads the UID, and speaks PC/SC Part 3 pseudo-APDUs: each key is loaded once, each
// sector authenticated once, data and trailer written with as few UPDATE BINARY commands as the
// reader takes (several blocks of one sector per command, falling back to one block per command
// for readers that refuse). The MAD sectors are written last, so a torn card never advertises
// data it lacks. Then every written block is read back after a fresh authentication with the
// keys a field reader has (read key, MAD key), compared, and the application decoded from what
// was read and its signature verified. Only then is the chip good, and Encode returns its UID.
// A card that carries a valid record with another card number is refused (AlreadyEncodedError)
// unless EncodeOptions.ReuseReject says it is a reject being re-used; its old data is then wiped.
//
// # Magnetic stripe
//
// EncodeStripe gives ISO/IEC 7811 tracks 1 and 2 with the organisation number and card number;
// see Tracks for the exact format.
//
// # Virtual card
//
// VirtualCard emulates the chip with real trailer and access-bit semantics and injectable faults
// (tearing, silent write loss, unknown transport keys, wrong ATR). VirtualReader connects cards
// to a vpcd slot of a pcscd (vsmartcard-vpcd), StartPCSCD starts a private socket-activated pcscd,
// and StartVirtualStation and VirtualTransport put both together for the demo.
package encoder
