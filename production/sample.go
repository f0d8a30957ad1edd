package production

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"time"
)

// Samples makes synthetic but valid OrderApproved messages for the demo, tests and load runs:
// real check digits, birth dates that match the national ids, portrait photos drawn in code, and
// names from across Europe. The same seed gives the same orders.
type Samples struct {
	rng    *rand.Rand
	seq    int
	photos [][]byte // drawing costs ~20 ms, so a few portraits are drawn and reused
}

const samplePhotoVariety = 12

// NewSamples starts a sample generator.
func NewSamples(seed uint64) *Samples {
	return &Samples{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

var (
	sampleGiven   = []string{"Øyvind", "Kari", "Łukasz", "Žydrūnė", "Ingrid", "Mateusz", "Agnė", "Åsmund", "Olga", "Jürgen", "Şükrü", "Siobhán", "Håkon", "Zofia", "Rūta"}
	sampleFamily  = []string{"Ødegård", "Nordmann", "Wiśniewski", "Šimkutė", "Ødegård-Åsheim", "Kowalczyk", "Kazlauskienė", "Bjørnstad", "Dvořák", "Strauß", "Yılmaz", "Ó Briain", "Næss", "Grzegorzewska", "Jankauskaitė"}
	sampleCompany = []struct{ org, name string }{
		{"923609016", "Bygg og Rør AS"}, {"974760673", "Renhold Øst AS"}, {"987654325", "Transport & Logistikk Nord AS"},
		{"912345688", "Anleggsgartner Åsheim og Sønner AS"}, {"998877660", "Trøndelag Betong og Stillas AS"},
	}
	sampleCities = []struct{ code, city string }{{"0155", "OSLO"}, {"5003", "BERGEN"}, {"7010", "TRONDHEIM"}, {"9008", "TROMSØ"}, {"4006", "STAVANGER"}, {"1606", "FREDRIKSTAD"}}
)

// Order makes one valid order with n cards, approved at approvedAt.
func (s *Samples) Order(n int, approvedAt time.Time) *OrderApproved {
	s.seq++
	co := sampleCompany[s.rng.IntN(len(sampleCompany))]
	city := sampleCities[s.rng.IntN(len(sampleCities))]
	types := []string{"construction", "construction", "construction", "cleaning", "transport"}
	m := &OrderApproved{
		OrderID:    fmt.Sprintf("A-%d-%07d", approvedAt.Year(), s.seq+s.rng.IntN(1000)*10000),
		ApprovedAt: approvedAt.Format(time.RFC3339),
		CardType:   types[s.rng.IntN(len(types))],
		Company:    WireCompany{OrgNumber: co.org, Name: co.name},
		Orderer:    WireOrderer{Name: "Kari Nordmann", Email: fmt.Sprintf("hr%d@%s.example", s.seq, "bygg")},
		DeliveryAddress: WireAddress{Name: co.name, Attention: "HR", Street: fmt.Sprintf("Storgata %d", 1+s.rng.IntN(200)),
			PostalCode: city.code, City: city.city, Country: "NO"},
	}
	for range n {
		m.Cards = append(m.Cards, s.Card())
	}
	if s.rng.IntN(3) == 0 {
		m.Accessories = []WireAccessory{{SKU: "cardholder", Quantity: n}}
	}
	return m
}

// Card makes one valid card with a fresh person.
func (s *Samples) Card() WireCard {
	birth := time.Date(1960+s.rng.IntN(45), time.Month(1+s.rng.IntN(12)), 1+s.rng.IntN(28), 0, 0, 0, 0, time.UTC)
	gender := []string{"M", "F", "X"}[s.rng.IntN(3)]
	return WireCard{
		Holder: WireHolder{
			NationalID: s.NationalID(birth, s.rng.IntN(5) == 0),
			GivenName:  sampleGiven[s.rng.IntN(len(sampleGiven))],
			FamilyName: sampleFamily[s.rng.IntN(len(sampleFamily))],
			BirthDate:  birth.Format(time.DateOnly),
			Gender:     gender,
		},
		Photo: WirePhoto{ContentType: "image/jpeg", Data: base64.StdEncoding.EncodeToString(s.cachedPhoto())},
	}
}

func (s *Samples) cachedPhoto() []byte {
	i := s.rng.IntN(samplePhotoVariety)
	if i >= len(s.photos) {
		s.photos = append(s.photos, s.Photo(360, 480))
		return s.photos[len(s.photos)-1]
	}
	return s.photos[i]
}

// NationalID makes a valid fødselsnummer (or D-number) for a birth date in 1900–2039.
func (s *Samples) NationalID(birth time.Time, dNumber bool) string {
	for {
		day := birth.Day()
		if dNumber {
			day += 40
		}
		var ind int
		if birth.Year() < 2000 {
			ind = s.rng.IntN(500)
		} else {
			ind = 500 + s.rng.IntN(500)
		}
		body := fmt.Sprintf("%02d%02d%02d%03d", day, int(birth.Month()), birth.Year()%100, ind)
		k1, ok := mod11(body, []int{3, 7, 6, 1, 8, 9, 4, 5, 2})
		if !ok {
			continue
		}
		body += fmt.Sprint(k1)
		k2, ok := mod11(body, []int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2})
		if !ok {
			continue
		}
		return body + fmt.Sprint(k2)
	}
}

// Photo draws a w×h portrait (light background, head and shoulders) as JPEG.
func (s *Samples) Photo(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bg := color.RGBA{uint8(225 + s.rng.IntN(25)), uint8(225 + s.rng.IntN(25)), uint8(230 + s.rng.IntN(25)), 255}
	skin := []color.RGBA{{241, 194, 125, 255}, {224, 172, 105, 255}, {198, 134, 66, 255}, {141, 85, 36, 255}, {255, 219, 172, 255}}[s.rng.IntN(5)]
	hair := []color.RGBA{{40, 30, 20, 255}, {120, 80, 40, 255}, {220, 190, 120, 255}, {90, 90, 90, 255}}[s.rng.IntN(4)]
	shirt := color.RGBA{uint8(s.rng.IntN(200)), uint8(s.rng.IntN(200)), uint8(s.rng.IntN(200)), 255}
	cx, cy := float64(w)/2, float64(h)*0.42
	rx, ry := float64(w)*0.22, float64(h)*0.2
	for y := range h {
		for x := range w {
			fx, fy := float64(x), float64(y)
			c := bg
			// shoulders: an ellipse below the head
			if sx, sy := (fx-cx)/(float64(w)*0.48), (fy-float64(h)*1.02)/(float64(h)*0.36); sx*sx+sy*sy <= 1 {
				c = shirt
			}
			if nx, ny := (fx-cx)/(rx*0.45), fy-(cy+ry*0.8); math.Abs(nx) <= 1 && ny >= 0 && ny <= float64(h)*0.08 {
				c = skin // neck
			}
			hx, hy := (fx-cx)/(rx*1.08), (fy-(cy-ry*0.12))/(ry*1.05)
			if hx*hx+hy*hy <= 1 && fy < cy {
				c = hair
			}
			if ex, ey := (fx-cx)/rx, (fy-cy)/ry; ex*ex+ey*ey <= 1 && !(hx*hx+hy*hy <= 1 && fy < cy-ry*0.45) {
				c = skin
				for _, side := range []float64{-1, 1} { // eyes
					if dx, dy := fx-(cx+side*rx*0.4), fy-(cy-ry*0.1); dx*dx+dy*dy <= (rx*0.09)*(rx*0.09) {
						c = color.RGBA{40, 40, 60, 255}
					}
				}
				if mx, my := (fx-cx)/(rx*0.35), (fy-(cy+ry*0.45))/(ry*0.06); mx*mx+my*my <= 1 {
					c = color.RGBA{170, 70, 70, 255}
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		panic(fmt.Sprintf("encode sample photo: %v", err)) // in-memory RGBA to a buffer cannot fail
	}
	return buf.Bytes()
}

// LandscapePhotoBase64 is a photo that breaks the portrait rule, for demos of rejection.
func (s *Samples) LandscapePhotoBase64() string {
	return base64.StdEncoding.EncodeToString(s.Photo(800, 600))
}
