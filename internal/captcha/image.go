package captcha

import (
	"image"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
)

// The image is drawn as vector strokes, not from a bitmap font: every challenge bends, jitters,
// rotates and shears each digit's pen path anew, crosses them with curves of the same pen and ink
// (so no filter can tell a digit's stroke from a clutter stroke by width or colour), scatters
// pieces of digits around them, cuts them with background-coloured lines, and warps the whole
// drawing, which is what defeats an OCR engine after any clean-up.

type point struct{ x, y float64 }

// digitStrokes are the pen paths of 0–9 in a box 0.6 wide and 1 high (y down). Each stroke is a
// chain of cubic Bézier pieces: p0, c1, c2, p1, c1, c2, p2, …
var digitStrokes = [10][][]point{
	{ellipse(0.3, 0.5, 0.28, 0.48)},
	{join(line(0.1, 0.24, 0.32, 0.02), line(0.32, 0.02, 0.32, 1)), line(0.1, 1, 0.54, 1)},
	{join([]point{{0.04, 0.26}, {0.06, -0.04}, {0.6, -0.06}, {0.56, 0.3}, {0.52, 0.55}, {0.1, 0.74}, {0.02, 1}},
		line(0.02, 1, 0.58, 1))},
	{{{0.04, 0.12}, {0.24, -0.06}, {0.6, 0.04}, {0.52, 0.26}, {0.46, 0.44}, {0.3, 0.46}, {0.22, 0.47},
		{0.62, 0.46}, {0.62, 0.98}, {0.3, 0.99}, {0.16, 1}, {0.06, 0.95}, {0.02, 0.88}}},
	{join(line(0.44, 1, 0.44, 0), line(0.44, 0, 0, 0.68), line(0, 0.68, 0.6, 0.68))},
	{join(line(0.54, 0.02, 0.1, 0.02), line(0.1, 0.02, 0.06, 0.45),
		[]point{{0.06, 0.45}, {0.3, 0.32}, {0.6, 0.42}, {0.58, 0.7}, {0.56, 0.98}, {0.2, 1.04}, {0.02, 0.88}})},
	{sixPath(false)},
	{join(line(0.02, 0.02, 0.58, 0.02), []point{{0.58, 0.02}, {0.4, 0.3}, {0.24, 0.6}, {0.2, 1}})},
	{ellipse(0.3, 0.25, 0.22, 0.24), ellipse(0.3, 0.73, 0.27, 0.26)},
	{sixPath(true)},
}

func line(x0, y0, x1, y1 float64) []point {
	return []point{{x0, y0}, {x0 + (x1-x0)/3, y0 + (y1-y0)/3}, {x0 + 2*(x1-x0)/3, y0 + 2*(y1-y0)/3}, {x1, y1}}
}

// join chains strokes that meet end to start.
func join(parts ...[]point) []point {
	out := parts[0]
	for _, p := range parts[1:] {
		out = append(out[:len(out):len(out)], p[1:]...)
	}
	return out
}

// ellipse is a closed stroke of four Bézier quarters starting at the top.
func ellipse(cx, cy, rx, ry float64) []point {
	const k = 0.5523 // control distance of a quarter circle
	return []point{
		{cx, cy - ry}, {cx + k*rx, cy - ry}, {cx + rx, cy - k*ry}, {cx + rx, cy},
		{cx + rx, cy + k*ry}, {cx + k*rx, cy + ry}, {cx, cy + ry},
		{cx - k*rx, cy + ry}, {cx - rx, cy + k*ry}, {cx - rx, cy},
		{cx - rx, cy - k*ry}, {cx - k*rx, cy - ry}, {cx, cy - ry},
	}
}

// sixPath is a 6, or turned half a turn, a 9.
func sixPath(nine bool) []point {
	p := []point{{0.5, 0.04}, {0.18, 0.12}, {0.04, 0.42}, {0.04, 0.7}, {0.04, 0.92}, {0.18, 1}, {0.31, 1},
		{0.48, 1}, {0.58, 0.88}, {0.58, 0.72}, {0.58, 0.54}, {0.44, 0.45}, {0.31, 0.45},
		{0.18, 0.45}, {0.06, 0.55}, {0.04, 0.66}}
	if nine {
		for i := range p {
			p[i] = point{0.6 - p[i].x, 1 - p[i].y}
		}
	}
	return p
}

// A segment of pen path in image coordinates; w is the pen's full width there.
type segment struct {
	a, b point
	w    float64
}

// canvas accumulates coverage: ink (0 paper … 1 ink) and cuts (background drawn over ink).
type canvas struct {
	w, h      int
	ink, cuts []float32
}

func (c *canvas) stroke(segs []segment, cut bool) {
	layer := c.ink
	if cut {
		layer = c.cuts
	}
	for _, s := range segs {
		r := s.w / 2
		x0, x1 := int(math.Floor(min(s.a.x, s.b.x)-r-1)), int(math.Ceil(max(s.a.x, s.b.x)+r+1))
		y0, y1 := int(math.Floor(min(s.a.y, s.b.y)-r-1)), int(math.Ceil(max(s.a.y, s.b.y)+r+1))
		x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, c.w-1), min(y1, c.h-1)
		dx, dy := s.b.x-s.a.x, s.b.y-s.a.y
		l2 := dx*dx + dy*dy
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				px, py := float64(x)+0.5-s.a.x, float64(y)+0.5-s.a.y
				t := 0.0
				if l2 > 0 {
					t = min(max((px*dx+py*dy)/l2, 0), 1)
				}
				ex, ey := px-t*dx, py-t*dy
				cov := float32(min(max(r-math.Sqrt(ex*ex+ey*ey)+0.5, 0), 1))
				if i := y*c.w + x; cov > layer[i] {
					layer[i] = cov
				}
			}
		}
	}
}

// warp is a smooth displacement of the whole drawing: two sine waves per axis.
type warp struct{ ax, px, fx, ay, py, fy [2]float64 }

func newWarp(rng *rand.Rand) warp {
	var w warp
	for i := range 2 {
		w.ax[i], w.px[i], w.fx[i] = between(rng, 1.5, 3.5), between(rng, 30, 110), between(rng, 0, 2*math.Pi)
		w.ay[i], w.py[i], w.fy[i] = between(rng, 1.5, 3.5), between(rng, 40, 140), between(rng, 0, 2*math.Pi)
	}
	return w
}

func (w warp) at(p point) point {
	q := p
	for i := range 2 {
		q.x += w.ax[i] * math.Sin(2*math.Pi*p.y/w.px[i]+w.fx[i])
		q.y += w.ay[i] * math.Sin(2*math.Pi*p.x/w.py[i]+w.fy[i])
	}
	return q
}

// pen turns a Bézier chain, mapped by place, into warped segments whose width swells and thins
// along the path like a real pen's.
type pen struct {
	width, swell, phase float64
	warp                warp
}

func (p pen) segments(chain []point, place func(point) point) []segment {
	const steps = 10
	var out []segment
	prev := p.warp.at(place(chain[0]))
	for i := 0; i+3 < len(chain); i += 3 {
		p0, c1, c2, p1 := chain[i], chain[i+1], chain[i+2], chain[i+3]
		for s := 1; s <= steps; s++ {
			t := float64(s) / steps
			u := 1 - t
			q := point{
				u*u*u*p0.x + 3*u*u*t*c1.x + 3*u*t*t*c2.x + t*t*t*p1.x,
				u*u*u*p0.y + 3*u*u*t*c1.y + 3*u*t*t*c2.y + t*t*t*p1.y,
			}
			cur := p.warp.at(place(q))
			w := p.width * (1 + p.swell*math.Sin(p.phase+0.35*float64(len(out))))
			out = append(out, segment{prev, cur, w})
			prev = cur
		}
	}
	return out
}

// jitter moves every point of a chain a little, so no two drawings of a digit share a shape.
func jitter(rng *rand.Rand, chain []point, by float64) []point {
	out := make([]point, len(chain))
	for i, p := range chain {
		out[i] = point{p.x + between(rng, -by, by), p.y + between(rng, -by, by)}
	}
	return out
}

// affine maps glyph space to the image: scale, shear, rotate about the glyph's centre, move.
func affine(cx, cy, sx, sy, shear, angle float64) func(point) point {
	sin, cos := math.Sincos(angle)
	return func(p point) point {
		x, y := (p.x-0.3)*sx, (p.y-0.5)*sy
		x += shear * y
		return point{cx + x*cos - y*sin, cy + x*sin + y*cos}
	}
}

// drawImage renders digits (values 0–9) with the randomness of rng.
func drawImage(rng *rand.Rand, digits []byte) *image.NRGBA {
	const w, h = ImageWidth, ImageHeight
	c := &canvas{w: w, h: h, ink: make([]float32, w*h), cuts: make([]float32, w*h)}
	ink := pen{width: between(rng, 3.4, 4.6), swell: between(rng, 0.1, 0.3), phase: between(rng, 0, 2*math.Pi), warp: newWarp(rng)}

	height := between(rng, 38, 46)
	advance := height * 0.6 * between(rng, 0.95, 1.05) // neighbours may touch
	x := between(rng, 8, w-8-advance*float64(len(digits)-1)-height*0.6) + height*0.3
	first := x
	for _, d := range digits {
		gh := height * between(rng, 0.9, 1.1)
		place := affine(x+between(rng, -2, 2), h/2+between(rng, -5, 5), gh*between(rng, 0.85, 1.15), gh,
			between(rng, -0.25, 0.25), between(rng, -0.25, 0.25))
		for _, s := range digitStrokes[d] {
			c.stroke(ink.segments(jitter(rng, s, 0.025), place), false)
		}
		x += advance * between(rng, 0.92, 1.08)
	}

	// Clutter in the digits' own pen: a long curve across every digit, then digit fragments.
	thin := ink
	thin.width *= between(rng, 0.85, 1)
	across := func(p point) point { return p }
	c.stroke(thin.segments(wave(between(rng, 25, h-25), between(rng, 4, 10), between(rng, 70, 200), between(rng, 0, 2*math.Pi)), across), false)
	// Beside the digits, where a reader sees a scribble and an OCR engine another character.
	left, right := first-height*0.65, x-advance+height*0.65 // clear of the outer digits
	for range 1 + rng.IntN(2) {
		var fx float64
		switch {
		case left >= 6 && (rng.IntN(2) == 0 || right > w-6):
			fx = between(rng, 0, left)
		case right <= w-6:
			fx = between(rng, right, w)
		default:
			continue
		}
		strokes := digitStrokes[rng.IntN(10)]
		s := strokes[rng.IntN(len(strokes))]
		from := rng.IntN((len(s) - 1) / 3)
		gh := height * between(rng, 0.4, 0.7)
		place := affine(fx, between(rng, h/4, h*3/4), gh, gh, 0, between(rng, -math.Pi, math.Pi))
		c.stroke(ink.segments(jitter(rng, s[3*from:3*from+4], 0.05), place), false)
	}
	// A background-coloured cut through the ink.
	cut := pen{width: between(rng, 1.2, 1.8), warp: ink.warp}
	c.stroke(cut.segments(wave(between(rng, 20, h-20), between(rng, 8, 16), between(rng, 60, 160), between(rng, 0, 2*math.Pi)), across), true)
	return c.paint(rng)
}

// wave is a sine wave across the image as a Bézier chain.
func wave(y0, amplitude, period, phase float64) []point {
	var pts []point
	for x := -12.0; x <= ImageWidth+12; x += 12 {
		pts = append(pts, point{x, y0 + amplitude*math.Sin(2*math.Pi*x/period+phase)})
	}
	return smooth(pts)
}

// smooth turns a polyline into a Bézier chain through its points (Catmull-Rom).
func smooth(pts []point) []point {
	out := []point{pts[0]}
	for i := 0; i+1 < len(pts); i++ {
		p0, p1, p2, p3 := pts[max(i-1, 0)], pts[i], pts[i+1], pts[min(i+2, len(pts)-1)]
		out = append(out,
			point{p1.x + (p2.x-p0.x)/6, p1.y + (p2.y-p0.y)/6},
			point{p2.x - (p3.x-p1.x)/6, p2.y - (p3.y-p1.y)/6},
			p2)
	}
	return out
}

// paint colours the canvas: a light gradient paper with grain and specks, ink whose colour
// drifts across the image.
func (c *canvas) paint(rng *rand.Rand) *image.NRGBA {
	light := func() [3]float64 {
		return [3]float64{between(rng, 195, 250), between(rng, 195, 250), between(rng, 195, 250)}
	}
	dark := func() [3]float64 {
		return [3]float64{between(rng, 10, 110), between(rng, 10, 110), between(rng, 10, 110)}
	}
	paper0, paper1, ink0, ink1 := light(), light(), dark(), dark()
	img := image.NewNRGBA(image.Rect(0, 0, c.w, c.h))
	for y := range c.h {
		for x := range c.w {
			i := y*c.w + x
			t := float64(x) / float64(c.w-1)
			a := float64(c.ink[i]) * (1 - float64(c.cuts[i]))
			if rng.IntN(60) == 0 { // specks, as dark as the ink
				a = max(a, between(rng, 0.5, 1))
			}
			grain := between(rng, -14, 14)
			o := img.PixOffset(x, y)
			for k := range 3 {
				paper := paper0[k] + (paper1[k]-paper0[k])*t
				inkc := ink0[k] + (ink1[k]-ink0[k])*t
				img.Pix[o+k] = uint8(min(max(paper*(1-a)+inkc*a+grain, 0), 255))
			}
			img.Pix[o+3] = 255
		}
	}
	return img
}

// writePNG encodes quickly: challenges are drawn per request.
func writePNG(w io.Writer, img image.Image) error {
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return enc.Encode(w, img)
}
