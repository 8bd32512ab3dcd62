"""The notifier daemon: tells approvers, requesters and security officers of on-chain events by e-mail and webhook."""
