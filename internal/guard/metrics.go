package guard

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxRoutes bounds the route label: requests to paths no mux pattern matched (404s, rejections
// before routing) are labelled by path only until this many distinct ones, then "other", so
// random paths cannot blow up the series.
const maxRoutes = 64

// Metrics are the server's Prometheus series, in a registry of their own (not the global one, so
// tests and several servers in one process do not collide).
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	flight   prometheus.Gauge
	rejects  *prometheus.CounterVec

	mu     sync.Mutex
	routes map[string]bool
}

// NewMetrics makes the series; indexSize (may be nil) is asked at each scrape for rag_index_files
// and rag_index_chunks.
func NewMetrics(indexSize func() (files, chunks int)) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rag_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rag_http_request_duration_seconds", Help: "Time to serve an HTTP request, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
		flight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rag_http_in_flight", Help: "HTTP requests being served.",
		}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rag_http_rejected_total", Help: "HTTP requests refused by a limit, by reason.",
		}, []string{"reason"}),
		routes: make(map[string]bool),
	}
	for _, r := range []string{reasonRate, reasonBusy, reasonTooLarge, reasonTimeout} {
		m.rejects.WithLabelValues(r) // every reason shows, at 0 until it happens
	}
	m.reg.MustRegister(m.requests, m.duration, m.flight, m.rejects,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if indexSize != nil {
		m.reg.MustRegister(indexCollector{size: indexSize})
	}
	return m
}

// Handler serves the series in Prometheus text format (for /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// The methods below accept a nil *Metrics, so Chain works without metrics.

func (m *Metrics) inFlight(d float64) {
	if m != nil {
		m.flight.Add(d)
	}
}

func (m *Metrics) rejected(reason string) {
	if m != nil {
		m.rejects.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) observe(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// route is the label for a request: the mux pattern it matched without its method ("/v1/get",
// "/docs/{id}"), else its path while there are few, else "other".
func (m *Metrics) route(pattern, path string) string {
	if m == nil {
		return ""
	}
	if pattern != "" {
		if _, p, ok := strings.Cut(pattern, " "); ok {
			return p
		}
		return pattern
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routes[path] {
		return path
	}
	if len(m.routes) >= maxRoutes {
		return "other"
	}
	m.routes[path] = true
	return path
}

var (
	descFiles  = prometheus.NewDesc("rag_index_files", "Files in the index.", nil, nil)
	descChunks = prometheus.NewDesc("rag_index_chunks", "Chunks in the index.", nil, nil)
)

// indexCollector asks the index size once per scrape for both gauges.
type indexCollector struct{ size func() (files, chunks int) }

func (c indexCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descFiles
	ch <- descChunks
}

func (c indexCollector) Collect(ch chan<- prometheus.Metric) {
	files, chunks := c.size()
	ch <- prometheus.MustNewConstMetric(descFiles, prometheus.GaugeValue, float64(files))
	ch <- prometheus.MustNewConstMetric(descChunks, prometheus.GaugeValue, float64(chunks))
}
