"""End-to-end tests: a real Distribution registry, skopeo and a `streamhook serve` process."""
