"""Messages to people: one-time codes to a phone (SMS) or an e-mail address, through a connector."""
