// Package dashboardtest holds the dashboard's browser tests: the real
// backupd binary (internal/testdaemon) and the embedded page, driven in
// headless Chromium through chromedp. It has no code of its own besides them.
package dashboardtest
