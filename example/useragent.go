package main

import "strings"

// describeUserAgent turns a User-Agent header into words a person
// recognises on the devices page: "Chrome on Linux", "Safari on iOS",
// "curl". It knows a handful of browsers and systems and says "Unknown
// browser" for the rest; a site that needs more uses a maintained parser.
func describeUserAgent(ua string) string {
	browser := browserName(ua)
	if browser == "" {
		browser = "Unknown browser"
	}
	if os := osName(ua); os != "" {
		return browser + " on " + os
	}
	return browser
}

// browserName names the browser, or "". Most browsers claim to be others
// for compatibility (every Chromium says "Safari", Edge says "Chrome"), so
// the order of the checks matters: the most specific token first.
func browserName(ua string) string {
	has := func(tokens ...string) bool {
		for _, t := range tokens {
			if strings.Contains(ua, t) {
				return true
			}
		}
		return false
	}
	switch {
	case strings.HasPrefix(ua, "curl/"):
		return "curl"
	case has("Edg/", "EdgA/", "EdgiOS/", "Edge/"):
		return "Edge"
	case has("OPR/", "SamsungBrowser/", "YaBrowser/", "Vivaldi/"):
		// Built on Chromium but not Chrome: better unnamed than misnamed.
		return ""
	case has("Firefox/", "FxiOS/"):
		return "Firefox"
	case has("Chromium/"):
		return "Chromium"
	case has("Chrome/", "CriOS/"): // HeadlessChrome/ too
		return "Chrome"
	case has("Safari/") && has("Version/"):
		return "Safari"
	}
	return ""
}

// osName names the operating system, or "". iOS and Android come first:
// their browsers say "like Mac OS X" and "Linux". An iPad asking for
// desktop sites sends a Mac's header, and is reported as macOS.
func osName(ua string) string {
	switch {
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad") || strings.Contains(ua, "iPod"):
		return "iOS"
	case strings.Contains(ua, "Android"):
		return "Android"
	case strings.Contains(ua, "Windows"):
		return "Windows"
	case strings.Contains(ua, "Macintosh") || strings.Contains(ua, "Mac OS X"):
		return "macOS"
	case strings.Contains(ua, "Linux"):
		return "Linux"
	}
	return ""
}
