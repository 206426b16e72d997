"""Application metrics: scraping a Prometheus text-exposition ``/metrics`` endpoint, label
matchers, counters into increases (resets handled) and histograms into quantiles and
"share below X". Never imports Textual."""
