"""One router per resource: health, users, precheck, requests, feeders."""
