// Command captchasolve measures how often automatic solvers that know the generator's code solve
// hello's captchas, for the current generator and the one it replaced (github.com/dchest/captcha):
//
//   - images: tesseract after each clean-up an attacker would try (none, generic, generator-aware);
//   - audio: a waveform matched filter and a spectral (log-mel) matched filter, both with
//     templates rebuilt from labelled challenges of the generator under attack, and pocketsphinx
//     with a six-digit grammar.
//
// An attacker who reads the code can run the generator with a secret of their own, so training
// here uses labelled challenges from a Service whose secret the bench holds, exactly as such an
// attacker would. Every solver is scored on fresh challenges: a solve is the exact answer.
//
//	cd bench && go run ./cmd/captchasolve -n 1000
//
// It needs tesseract and pocketsphinx with its US English model (see bench/README.md).
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 1000, "challenges each solver is scored on, per generator")
	train := flag.Int("train", 300, "labelled challenges the audio templates are learned from")
	gens := flag.String("gen", "old,new", "generators to attack: old (dchest/captcha), new (hello's)")
	media := flag.String("media", "image,audio", "what to attack")
	voice := flag.String("voice", "../internal/captcha/voice", "the public digit recordings")
	workers := flag.Int("workers", 2, "parallel solvers")
	samples := flag.String("samples", "", "only write 10 challenges of each generator here, for people to try")
	flag.Parse()
	if err := run(config{*n, *train, strings.Split(*gens, ","), *media, *voice, *workers, *samples}); err != nil {
		fmt.Fprintln(os.Stderr, "captchasolve:", err)
		os.Exit(1)
	}
}

type config struct {
	n, train int
	gens     []string
	media    string
	voice    string
	workers  int
	samples  string
}

func run(c config) error {
	for _, name := range c.gens {
		var g generator
		switch name {
		case "old":
			g = legacy{}
		case "new":
			cur, err := newCurrent()
			if err != nil {
				return err
			}
			g = cur
		default:
			return fmt.Errorf("unknown generator %q", name)
		}
		if c.samples != "" {
			if err := writeSamples(c.samples, g); err != nil {
				return err
			}
			continue
		}
		if strings.Contains(c.media, "image") {
			if err := attackImages(c, g); err != nil {
				return err
			}
		}
		if strings.Contains(c.media, "audio") {
			if err := attackAudio(c, g); err != nil {
				return err
			}
		}
	}
	return nil
}

const batch = 100

// writeSamples writes ten challenges as NAME-N.png and NAME-N.wav, and their answers to
// NAME-answers.txt, so a person can check they can still solve them.
func writeSamples(dir string, g generator) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var answers strings.Builder
	for i := range 10 {
		ch, err := g.next(false)
		if err != nil {
			return err
		}
		base := filepath.Join(dir, fmt.Sprintf("%s-%d", g.name(), i))
		if err := os.WriteFile(base+".png", ch.png, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(base+".wav", ch.wav, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&answers, "%s-%d %s\n", g.name(), i, ch.answer)
	}
	return os.WriteFile(filepath.Join(dir, g.name()+"-answers.txt"), []byte(answers.String()), 0o644)
}

func attackImages(c config, g generator) error {
	start := time.Now()
	cls := cleanups()
	solved := make([]int, len(cls))
	digitsRight := make([]int, len(cls))
	for done := 0; done < c.n; done += batch {
		m := min(batch, c.n-done)
		chs := make([]challenge, m)
		for i := range chs {
			var err error
			if chs[i], err = g.next(false); err != nil {
				return err
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, len(cls))
		for k, cl := range cls {
			wg.Go(func() {
				dir, err := os.MkdirTemp("", "captchasolve-")
				if err != nil {
					errs[k] = err
					return
				}
				defer func() { _ = os.RemoveAll(dir) }()
				imgs := make([][]byte, m)
				for i, ch := range chs {
					if imgs[i], err = cl.apply(ch.png); err != nil {
						errs[k] = err
						return
					}
				}
				got, err := tesseract(dir, imgs)
				if err != nil {
					errs[k] = err
					return
				}
				for i, ch := range chs {
					solved[k] += b2i(got[i] == ch.answer)
					digitsRight[k] += sameDigits(got[i], ch.answer)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	fmt.Printf("\n## %s images: tesseract 5 (--psm 7, digits only), %d challenges, %s\n\n", g.name(), c.n, time.Since(start).Round(time.Second))
	fmt.Println("| clean-up | solved | rate | digits right |")
	fmt.Println("|---|---:|---:|---:|")
	for k, cl := range cls {
		fmt.Printf("| %s | %d | %.1f%% | %.1f%% |\n", cl.name, solved[k], pct(solved[k], c.n), pct(digitsRight[k], 6*c.n))
	}
	return nil
}

// The audio solvers, in the order of the report's columns.
const (
	waveformMF = iota
	spectralMF
	pocketsphinx
	solvers
)

type audioScore struct{ n, solved, digits [solvers]int }

func attackAudio(c config, g generator) error {
	start := time.Now()
	voice, err := readVoice(c.voice)
	if err != nil {
		return err
	}
	mb := newMelBank()
	_, layered := g.(current)
	maxLen := 0

	// Training: labelled challenges. Digit spans come from the generator's own layers where it has
	// them (an attacker running the code knows them), else from aligning the known answer with
	// the public recordings, which the old generator plays as they are.
	var bank []template
	if !layered {
		for d, x := range voice {
			for s := 0.9; s <= 1.2001; s += 0.025 {
				bank = append(bank, newTemplate(d, changeSpeed(x, s)))
			}
		}
	}
	var labels []labelled
	var trainWav [][]float64
	perDigit := [10]int{}
	for range c.train {
		ch, err := g.next(layered)
		if err != nil {
			return err
		}
		x, err := readWAV(ch.wav)
		if err != nil {
			return err
		}
		maxLen = max(maxLen, len(x))
		l := labelled{feat: mb.features(x), answer: ch.answer}
		if layered {
			spans := voicedSpans(ch.digits)
			if len(spans) != len(ch.answer) {
				continue
			}
			for k, sp := range spans {
				l.starts = append(l.starts, sp[0]/hop)
				l.ends = append(l.ends, sp[1]/hop)
				// A bank of spoken digits as this generator renders them, eight of each.
				if d := int(ch.answer[k] - '0'); perDigit[d] < 8 {
					perDigit[d]++
					bank = append(bank, newTemplate(d, ch.digits[sp[0]:sp[1]]))
				}
			}
		} else {
			trainWav = append(trainWav, x)
		}
		labels = append(labels, l)
	}
	mf := newMatchedFilter(bank, maxLen*5/4)
	if !layered {
		for i, x := range trainWav {
			labels[i].starts, labels[i].ends = mf.align(x, labels[i].answer, g.timing())
		}
	}
	model := trainSpectral(labels)

	// Scoring, per SNR band where the generator reports one.
	bands := map[string]*audioScore{}
	var clean audioScore // pocketsphinx on the spoken digits alone: how intelligible they are
	var snrs []float64
	for done := 0; done < c.n; done += batch {
		m := min(batch, c.n-done)
		chs := make([]challenge, m)
		xs := make([][]float64, m)
		band := make([]string, m)
		for i := range chs {
			if chs[i], err = g.next(layered); err != nil {
				return err
			}
			if xs[i], err = readWAV(chs[i].wav); err != nil {
				return err
			}
			band[i] = "all"
			if layered {
				snr := snrOf(chs[i].digits, chs[i].background)
				snrs = append(snrs, snr)
				lo := 2 * math.Floor(snr/2)
				band[i] = fmt.Sprintf("%+.0f to %+.0f dB", lo, lo+2)
			}
		}
		got := make([][solvers]string, m)
		var wg sync.WaitGroup
		next := make(chan int)
		for range c.workers {
			wg.Go(func() {
				for i := range next {
					got[i][waveformMF] = mf.solve(xs[i], g.timing())
					got[i][spectralMF] = model.solve(mb.features(xs[i]), g.timing())
				}
			})
		}
		var sphinxErr, cleanErr error
		var heard, heardClean []string
		wg.Go(func() {
			dir, err := os.MkdirTemp("", "captchasolve-")
			if err != nil {
				sphinxErr = err
				return
			}
			defer func() { _ = os.RemoveAll(dir) }()
			heard, sphinxErr = sphinx(dir, xs)
		})
		if layered {
			wg.Go(func() {
				dir, err := os.MkdirTemp("", "captchasolve-")
				if err != nil {
					cleanErr = err
					return
				}
				defer func() { _ = os.RemoveAll(dir) }()
				alone := make([][]float64, m)
				for i, ch := range chs {
					alone[i] = ch.digits
				}
				heardClean, cleanErr = sphinx(dir, alone)
			})
		}
		for i := range m {
			next <- i
		}
		close(next)
		wg.Wait()
		if sphinxErr != nil {
			return sphinxErr
		}
		if cleanErr != nil {
			return cleanErr
		}
		for i, ch := range chs {
			got[i][pocketsphinx] = heard[i]
			for _, b := range []string{band[i], "all"} {
				s := bands[b]
				if s == nil {
					s = &audioScore{}
					bands[b] = s
				}
				for k := range solvers {
					s.n[k]++
					s.solved[k] += b2i(got[i][k] == ch.answer)
					s.digits[k] += sameDigits(got[i][k], ch.answer)
				}
				if b == "all" {
					break
				}
			}
			if layered {
				clean.n[pocketsphinx]++
				clean.solved[pocketsphinx] += b2i(heardClean[i] == ch.answer)
			}
		}
		all := bands["all"]
		fmt.Fprintf(os.Stderr, "%s audio: %d/%d scored, solved %.1f%% / %.1f%% / %.1f%%, %s\n", g.name(), all.n[0], c.n,
			pct(all.solved[waveformMF], all.n[0]), pct(all.solved[spectralMF], all.n[0]), pct(all.solved[pocketsphinx], all.n[0]),
			time.Since(start).Round(time.Second))
	}

	fmt.Printf("\n## %s audio: %d challenges (templates from %d labelled ones), %s\n\n", g.name(), c.n, c.train, time.Since(start).Round(time.Second))
	if len(snrs) > 0 {
		lo, hi, mean := snrs[0], snrs[0], 0.0
		for _, s := range snrs {
			lo, hi, mean = min(lo, s), max(hi, s), mean+s/float64(len(snrs))
		}
		fmt.Printf("SNR (digits over babble and noise while spoken): mean %.1f dB, %.1f to %.1f dB; pocketsphinx on the digits alone: %d/%d (%.1f%%)\n\n",
			mean, lo, hi, clean.solved[pocketsphinx], clean.n[pocketsphinx], pct(clean.solved[pocketsphinx], clean.n[pocketsphinx]))
	}
	fmt.Print("Solved (digits right):\n\n| SNR | challenges | waveform MF | spectral MF | pocketsphinx |\n|---|---:|---:|---:|---:|\n")
	keys := make([]string, 0, len(bands))
	for b := range bands {
		keys = append(keys, b)
	}
	sortBands(keys)
	for _, b := range keys {
		s := bands[b]
		fmt.Printf("| %s | %d |", b, s.n[0])
		for k := range solvers {
			fmt.Printf(" %.1f%% (%.0f%%) |", pct(s.solved[k], s.n[k]), pct(s.digits[k], 6*s.n[k]))
		}
		fmt.Println()
	}
	return nil
}

// voicedSpans returns where a layer that is silent between digits is not silent (sample spans),
// joining pauses shorter than 100 ms inside a digit.
func voicedSpans(x []float64) [][2]int {
	var spans [][2]int
	in := false
	last := -rate
	for i, v := range x {
		if v == 0 {
			continue
		}
		if !in || i-last > rate/10 {
			spans = append(spans, [2]int{i, i + 1})
			in = true
		}
		spans[len(spans)-1][1] = i + 1
		last = i
	}
	return spans
}

// snrOf is the digits' power over the background's while digits are spoken, in dB.
func snrOf(digits, background []float64) float64 {
	var fg, bg float64
	for _, sp := range voicedSpans(digits) {
		for i := sp[0]; i < sp[1]; i++ {
			fg += digits[i] * digits[i]
			bg += background[i] * background[i]
		}
	}
	return 10 * math.Log10(fg/bg)
}

func sortBands(keys []string) {
	value := func(k string) float64 {
		var v float64
		if _, err := fmt.Sscanf(k, "%f", &v); err != nil {
			return math.Inf(1) // "all" last
		}
		return v
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && value(keys[j]) < value(keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

func sameDigits(got, want string) int {
	n := 0
	for i := range min(len(got), len(want)) {
		n += b2i(got[i] == want[i])
	}
	return n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
