package main

import (
	"bytes"
	"crypto/rand"
	"fmt"

	dchest "github.com/dchest/captcha"

	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/guard/memory"
)

// A challenge as the attacker fetches it, with its answer for scoring (and, from hello's
// generator, the audio's two layers, which only training and measurement look at).
type challenge struct {
	answer             string
	png, wav           []byte
	digits, background []float64
}

// generator issues challenges. Its timing says what its code says about where digits are,
// which an attacker who reads the code uses.
type generator interface {
	name() string
	next(layers bool) (challenge, error)
	timing() timing
}

// timing of the digits in a generator's audio, in seconds.
type timing struct{ minGap, maxGap float64 }

// current is hello's own generator, driven through captcha.Service as the server drives it.
type current struct{ svc *captcha.Service }

func newCurrent() (current, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return current{}, err
	}
	svc, err := captcha.New(captcha.Options{Secret: secret, Spent: memory.New(memory.Options{})})
	return current{svc}, err
}

func (current) name() string   { return "new" }
func (current) timing() timing { return timing{0.25, 0.85} }

func (g current) next(layers bool) (challenge, error) {
	ch, err := g.svc.Issue()
	if err != nil {
		return challenge{}, err
	}
	var c challenge
	if c.answer, err = g.svc.Answer(ch.ID); err != nil {
		return c, err
	}
	var img, snd bytes.Buffer
	if err := g.svc.WriteImage(&img, ch.ID); err != nil {
		return c, err
	}
	if err := g.svc.WriteAudio(&snd, ch.ID); err != nil {
		return c, err
	}
	c.png, c.wav = img.Bytes(), snd.Bytes()
	if layers {
		c.digits, c.background, err = g.svc.AudioLayers(ch.ID)
	}
	return c, err
}

// legacy is the generator hello used before: github.com/dchest/captcha's image and audio.
type legacy struct{}

func (legacy) name() string   { return "old" }
func (legacy) timing() timing { return timing{0.95, 3.05} } // NewAudio: 1–3 s between digits

func (legacy) next(bool) (challenge, error) {
	digits := dchest.RandomDigits(captcha.Digits)
	id := rand.Text()
	var c challenge
	for _, d := range digits {
		c.answer += fmt.Sprint(d)
	}
	var img, snd bytes.Buffer
	if _, err := dchest.NewImage(id, digits, captcha.ImageWidth, captcha.ImageHeight).WriteTo(&img); err != nil {
		return c, err
	}
	if _, err := dchest.NewAudio(id, digits, "en").WriteTo(&snd); err != nil {
		return c, err
	}
	c.png, c.wav = img.Bytes(), snd.Bytes()
	return c, nil
}
