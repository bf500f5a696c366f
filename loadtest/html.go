package loadtest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed report.html.tmpl
var reportTemplate string

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"errs": formatErrors,
	"f1":   func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"f2":   func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"sum":  sum,
}).Parse(reportTemplate))

// WriteFiles writes report.json and report.html into dir, creating it.
func (rep *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		return err
	}
	if err := rep.WriteHTML(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// WriteHTML renders the self-contained page: tables and inline SVG plots, no
// scripts, no external resources.
func (rep *Report) WriteHTML(w io.Writer) error {
	type chart struct {
		Title string
		SVG   template.HTML
	}
	var latency []chart
	maxP99 := 0.0
	if rep.Settings.MaxP99MS > 0 {
		maxP99 = rep.Settings.MaxP99MS
	}
	end := math.Max(rep.Duration, 1)
	for _, o := range rep.Operations {
		if o.Count == 0 {
			continue
		}
		p50, p99 := seriesOf(o.Series, func(p Point) float64 { return p.P50 }), seriesOf(o.Series, func(p Point) float64 { return p.P99 })
		latency = append(latency, chart{
			Title: fmt.Sprintf("%s: latency per second (p50 %s ms, p99 %s ms over the run)", o.Op, trim(o.Latency.P50), trim(o.Latency.P99)),
			SVG: lineChart("ms", end, []line{
				{Name: "p99", Color: "#d95f02", Points: p99},
				{Name: "p50", Color: "#1b6ca8", Points: p50},
			}, maxP99),
		})
	}
	// Only whole seconds of the timed run: the pacer's last request can open a
	// second it does not fill.
	sent := map[int]float64{}
	failed := map[int]float64{}
	for _, p := range rep.All.Series {
		if float64(p.Second+1) > rep.Duration+1e-6 {
			continue
		}
		sent[p.Second] += float64(p.Count)
		failed[p.Second] += float64(p.Errors)
	}
	throughput := lineChart("req/s", end, []line{
		{Name: "sent", Color: "#1b6ca8", Points: mapSeries(sent)},
		{Name: "failed", Color: "#c0392b", Points: mapSeries(failed)},
	}, rep.Rate.Target)
	var rss template.HTML
	if rep.RSS != nil {
		var pts []xy
		for _, s := range rep.RSS.Samples {
			pts = append(pts, xy{s.At, s.MB})
		}
		rss = lineChart("MB", end, []line{{Name: "RSS", Color: "#2e7d32", Points: pts}}, rep.Settings.MaxRSSMB)
	}
	return pageTemplate.Execute(w, map[string]any{
		"R": rep, "Latency": latency, "Throughput": throughput, "RSSChart": rss,
	})
}

func trim(f float64) string { return fmt.Sprintf("%.3g", f) }

// formatErrors lists error classes, most frequent first.
func formatErrors(m map[string]int) string {
	if len(m) == 0 {
		return "—"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s × %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

type xy struct{ X, Y float64 }

type line struct {
	Name   string
	Color  string
	Points []xy
}

func seriesOf(ps []Point, f func(Point) float64) []xy {
	out := make([]xy, len(ps))
	for i, p := range ps {
		out[i] = xy{float64(p.Second) + 0.5, f(p)}
	}
	return out
}

func mapSeries(m map[int]float64) []xy {
	secs := make([]int, 0, len(m))
	for s := range m {
		secs = append(secs, s)
	}
	sort.Ints(secs)
	out := make([]xy, len(secs))
	for i, s := range secs {
		out[i] = xy{float64(s) + 0.5, m[s]}
	}
	return out
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten, for axis ends.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// lineChart draws lines over x in [0, xMax] seconds as an inline SVG, with a
// dashed reference line at ref when ref > 0 (a target or a threshold).
func lineChart(unit string, xMax float64, lines []line, ref float64) template.HTML {
	const w, h, left, right, top, bottom = 720.0, 230.0, 56.0, 12.0, 22.0, 36.0
	yMax := ref
	for _, l := range lines {
		for _, p := range l.Points {
			yMax = math.Max(yMax, p.Y)
			xMax = math.Max(xMax, p.X)
		}
	}
	yMax = niceCeil(yMax * 1.05)
	xMax = math.Max(xMax, 1)
	px := func(x float64) float64 { return left + (w-left-right)*x/xMax }
	py := func(y float64) float64 { return top + (h-top-bottom)*(1-y/yMax) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s over time" xmlns="http://www.w3.org/2000/svg">`, w, h, template.HTMLEscapeString(unit))
	for i := 0; i <= 4; i++ {
		y := yMax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="grid"/>`, left, w-right, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="ylab">%s</text>`, left-6, py(y)+4, axisLabel(y))
	}
	xStep := niceCeil(xMax / 8)
	for x := 0.0; x <= xMax+1e-9; x += xStep {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="xlab">%ss</text>`, px(x), h-bottom+16, axisLabel(x))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="ylab">%s</text>`, left-6, 12.0, template.HTMLEscapeString(unit))
	if ref > 0 {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="ref"/>`, left, w-right, py(ref), py(ref))
	}
	for i, l := range lines {
		if len(l.Points) > 0 {
			var pts strings.Builder
			for _, p := range l.Points {
				fmt.Fprintf(&pts, "%.1f,%.1f ", px(p.X), py(p.Y))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, l.Color, strings.TrimSpace(pts.String()))
		}
		lx := w - right - 90*float64(len(lines)-i)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s"/><text x="%.1f" y="%.1f" class="legend">%s</text>`,
			lx, h-12.0, l.Color, lx+14, h-3.0, template.HTMLEscapeString(l.Name))
	}
	b.WriteString(`</svg>`)
	// Built from numbers and escaped names only.
	return template.HTML(b.String())
}

func axisLabel(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
