package scenario

import (
	"cmp"
	"fmt"
	"image/color"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writePlots draws latency.png, outcomes.png and (when the server's process was measured)
// cpu.png into dir.
func writePlots(dir string, r *report) ([]string, error) {
	var files []string
	save := func(name string, height vg.Length, panels ...*plot.Plot) error {
		path := filepath.Join(dir, name)
		if err := savePanels(path, 20*vg.Centimeter, height, panels); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		files = append(files, path)
		return nil
	}
	lat, err := r.latencyPlot()
	if err != nil {
		return nil, err
	}
	if err := save("latency.png", 11*vg.Centimeter, lat); err != nil {
		return nil, err
	}
	realP, err := r.stackPlot("real users: outcomes per second", r.series.real)
	if err != nil {
		return nil, err
	}
	attP, err := r.stackPlot("attackers: outcomes per second", r.series.attackers)
	if err != nil {
		return nil, err
	}
	if err := save("outcomes.png", 20*vg.Centimeter, realP, attP); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(r.series.cpu, func(v float64) bool { return !math.IsNaN(v) }) {
		return files, nil
	}
	panels, err := r.serverPlots()
	if err != nil {
		return nil, err
	}
	if err := save("cpu.png", vg.Length(len(panels))*8*vg.Centimeter, panels...); err != nil {
		return nil, err
	}
	return files, nil
}

func (r *report) latencyPlot() (*plot.Plot, error) {
	p := newPanel("real users with device cookies: login latency per second", "ms")
	base := percentile(r.stats[0].cookie.latency, 99)
	target := ms(base) * maxP99Increase
	if err := r.frame(p, max(maxOf(r.series.p99), maxOf(r.series.newP50), target), 6); err != nil {
		return nil, err
	}
	lines := []struct {
		name   string
		ys     []float64
		col    color.Color
		dashes []vg.Length
	}{
		{"p50", r.series.p50, color.RGBA{0x1f, 0x77, 0xb4, 255}, nil},
		{"p90", r.series.p90, color.RGBA{0xff, 0x7f, 0x0e, 255}, nil},
		{"p99", r.series.p99, color.RGBA{0xd6, 0x27, 0x28, 255}, nil},
		{"new devices: p50 (captcha included)", r.series.newP50, color.RGBA{0x7f, 0x7f, 0x7f, 255}, []vg.Length{vg.Points(2), vg.Points(2)}},
	}
	for _, l := range lines {
		xys := points(l.ys)
		if len(xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		line.Color, line.Width, line.Dashes = l.col, vg.Points(1.5), l.dashes
		p.Add(line)
		p.Legend.Add(l.name, line)
	}
	if !math.IsNaN(target) && target > 0 {
		line, err := plotter.NewLine(plotter.XYs{{X: 0, Y: target}, {X: float64(r.phases.total()), Y: target}})
		if err != nil {
			return nil, err
		}
		line.Color, line.Dashes = color.Black, []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("p99 limit (%.1f× baseline p99)", maxP99Increase), line)
	}
	return p, nil
}

// stackPlot draws outcomes per second as stacked areas, the largest outcomes of the run
// named and the rest together.
func (r *report) stackPlot(title string, perSecond []map[string]int) (*plot.Plot, error) {
	p := newPanel(title, "requests/s")
	totals := map[string]int{}
	for _, s := range perSecond {
		addAll(totals, s)
	}
	order := slices.SortedFunc(maps.Keys(totals), func(a, b string) int {
		return cmp.Or(cmp.Compare(totals[b], totals[a]), cmp.Compare(a, b))
	})
	const named = 7
	layer := func(s map[string]int, i int) float64 {
		if i < named {
			return float64(s[order[i]])
		}
		t := 0
		for _, o := range order[named:] {
			t += s[o]
		}
		return float64(t)
	}
	layers := min(len(order), named+1)
	lower := make([]float64, len(perSecond))
	top := 0.0
	var polys []*plotter.Polygon
	var names []string
	for i := range layers {
		upper := make([]float64, len(perSecond))
		ring := make(plotter.XYs, 0, 4*len(perSecond))
		for s := range perSecond {
			upper[s] = lower[s] + layer(perSecond[s], i)
			// Each second is a flat step, so a value is where its requests were counted.
			ring = append(ring, plotter.XY{X: float64(s), Y: upper[s]}, plotter.XY{X: float64(s + 1), Y: upper[s]})
			top = max(top, upper[s])
		}
		for s := len(perSecond) - 1; s >= 0; s-- {
			ring = append(ring, plotter.XY{X: float64(s + 1), Y: lower[s]}, plotter.XY{X: float64(s), Y: lower[s]})
		}
		poly, err := plotter.NewPolygon(ring)
		if err != nil {
			return nil, err
		}
		name := "other"
		if i < named {
			name = order[i]
		}
		poly.Color, poly.LineStyle = outcomeColor(name, i), draw.LineStyle{}
		polys, names = append(polys, poly), append(names, name)
		lower = upper
	}
	if err := r.frame(p, top, len(polys)+1); err != nil {
		return nil, err
	}
	for i, poly := range polys {
		p.Add(poly)
		p.Legend.Add(names[i], poly)
	}
	return p, nil
}

// serverPlots draws the server's CPU, its memory and, when it exports them, its hashing
// queues per class.
func (r *report) serverPlots() ([]*plot.Plot, error) {
	cpu := newPanel("server CPU", "cores (CPU s per s)")
	if err := r.frame(cpu, max(maxOf(r.series.cpu), maxOf(r.series.machine)), 3); err != nil {
		return nil, err
	}
	if err := addLine(cpu, "CPU", r.series.cpu, plotutil.Color(0)); err != nil {
		return nil, err
	}
	// The whole machine's: what the server could not have, the load generator's included.
	if err := addLine(cpu, "machine, every process", r.series.machine, color.Gray{Y: 0x90}); err != nil {
		return nil, err
	}
	rss := newPanel("server resident memory", "MiB")
	if err := r.frame(rss, maxOf(r.series.rssMiB), 2); err != nil {
		return nil, err
	}
	if err := addLine(rss, "RSS", r.series.rssMiB, plotutil.Color(1)); err != nil {
		return nil, err
	}
	panels := []*plot.Plot{cpu, rss}

	classes := map[string]bool{}
	for _, q := range r.series.queue {
		for c := range q {
			classes[c] = true
		}
	}
	if len(classes) == 0 {
		return panels, nil
	}
	queue := newPanel("hashing queue per class (hello_hash_queue_length)", "waiting")
	top := 0.0
	for _, q := range r.series.queue {
		for _, v := range q {
			top = max(top, v)
		}
	}
	if err := r.frame(queue, top, len(classes)+1); err != nil {
		return nil, err
	}
	for i, c := range slices.Sorted(maps.Keys(classes)) {
		ys := make([]float64, len(r.series.queue))
		for s, q := range r.series.queue {
			ys[s] = math.NaN()
			if q != nil {
				ys[s] = q[c]
			}
		}
		if err := addLine(queue, c, ys, plotutil.Color(i+2)); err != nil {
			return nil, err
		}
	}
	return append(panels, queue), nil
}

// frame sets the axes for data up to top, with room above it for a legend of the given
// entries (shading included), and shades the attack phase behind what comes next.
func (r *report) frame(p *plot.Plot, top float64, entries int) error {
	if top <= 0 || math.IsNaN(top) {
		top = 1
	}
	top *= 1.05 + 0.07*float64(entries)
	p.Y.Min, p.Y.Max = 0, top
	a := r.phases.attack
	x0, x1 := float64(a.from), float64(a.to)
	poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: top}, {X: x0, Y: top}})
	if err != nil {
		return err
	}
	poly.Color, poly.LineStyle = color.NRGBA{0xff, 0x40, 0x40, 0x30}, draw.LineStyle{}
	p.Add(poly)
	p.Legend.Add("attack", poly)
	p.X.Min, p.X.Max = 0, float64(r.phases.total())
	return nil
}

func newPanel(title, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds since start"
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Add(plotter.NewGrid())
	return p
}

func addLine(p *plot.Plot, name string, ys []float64, col color.Color) error {
	xys := points(ys)
	if len(xys) == 0 {
		return nil
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	line.Color, line.Width = col, vg.Points(1.5)
	p.Add(line)
	p.Legend.Add(name, line)
	return nil
}

// points places value s at the middle of second s and leaves out seconds without a value.
func points(ys []float64) plotter.XYs {
	var xys plotter.XYs
	for s, y := range ys {
		if !math.IsNaN(y) {
			xys = append(xys, plotter.XY{X: float64(s) + 0.5, Y: y})
		}
	}
	return xys
}

func maxOf(ys []float64) float64 {
	m := 0.0
	for _, y := range ys {
		if !math.IsNaN(y) {
			m = max(m, y)
		}
	}
	return m
}

// outcomeColor gives the common outcomes fixed colours: green for logins, reds for rate
// limits, oranges for captchas, purple for shedding, grey for wrong passwords; the flood's
// answers get colours of their own.
func outcomeColor(outcome string, i int) color.Color {
	if base, ok := strings.CutSuffix(outcome, afterCaptcha); ok && base != "200" {
		return lighter(outcomeColor(base, i))
	}
	switch {
	case strings.HasPrefix(outcome, floodPrefix):
		return plotutil.Color(i + 3)
	case outcome == "200":
		return color.RGBA{0x2c, 0xa0, 0x2c, 255}
	case outcome == "200"+afterCaptcha:
		return color.RGBA{0x98, 0xdf, 0x8a, 255}
	case strings.HasPrefix(outcome, "401"):
		return color.RGBA{0x9e, 0x9e, 0x9e, 255}
	case strings.HasPrefix(outcome, "429 rate_limited"):
		return color.RGBA{0xd6, 0x27, 0x28, 255}
	case strings.HasPrefix(outcome, "429 too_many_attempts"):
		return color.RGBA{0xff, 0x98, 0x96, 255}
	case strings.HasPrefix(outcome, "403 captcha_required"):
		return color.RGBA{0xff, 0x7f, 0x0e, 255}
	case strings.HasPrefix(outcome, "403 captcha_invalid"):
		return color.RGBA{0xff, 0xbb, 0x78, 255}
	case strings.HasPrefix(outcome, "503"):
		return color.RGBA{0x94, 0x67, 0xbd, 255}
	case outcome == "error":
		return color.Black
	}
	return plotutil.Color(i + 3)
}

// lighter mixes c half with white: the same refusal after a captcha was read.
func lighter(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8((v>>8 + 255) / 2) }
	return color.RGBA{mix(r), mix(g), mix(b), 255}
}

// savePanels stacks the panels vertically, their data areas aligned, into one PNG.
func savePanels(path string, w, h vg.Length, panels []*plot.Plot) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))
	dc := draw.New(img)
	t := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadY: vg.Millimeter * 4}
	grid := make([][]*plot.Plot, len(panels))
	for i, p := range panels {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, t, dc)
	for i, p := range panels {
		p.Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
