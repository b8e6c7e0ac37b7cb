/* Saoma pages: language, money, the JSON API, human error sentences, small DOM helpers. */
"use strict";

const DICT = {
  en: {
    skip: "Skip to content",
    title_start: "Open QR payments",
    title_wallet: "Wallet",
    title_cashier: "Cashier",
    title_dashboard: "Dashboard",
    demo_banner: "Demo mode: a made-up Shenzhen; anyone can sign in as anyone. No real money.",
    sign_in: "Sign in", sign_up: "Create a wallet", sign_out: "Sign out",
    login: "Phone number or e-mail", password: "Password", display_name: "Your name",
    have_account: "I already have a wallet", no_account: "New here? Create a wallet",
    demo_messages: "Messages the sandbox sent", demo_messages_none: "No message yet: sign up to get a code.",
    verify_title: "Confirm your phone or e-mail", verify_code: "Code (6 digits)", verify: "Confirm",
    verify_resend: "Send a new code", later: "Later",
    verify_sent: "We sent a code to {to}. Until you type it here, money sent to {to} waits for you (and goes back after a day).",
    verify_sandbox: "Sandbox message (no SMS or e-mail leaves this demo): {text}",
    verify_resent: "A new code is on its way.", verify_done: "{to} is confirmed: money sent to it reaches you.",
    unverified: "{to} is not confirmed yet: money sent to it waits.",
    ids_title: "Phones and e-mail addresses", ids_add_label: "Add a phone number or e-mail", ids_add: "Add",
    id_verified: "confirmed", id_unverified: "not confirmed",
    "err_verification-code-wrong": "Wrong code. Check the message and try again.",
    "err_verification-code-expired": "The code has expired. Ask for a new one.",
    "err_verification-code-locked": "Too many wrong codes. Ask for a new one.",
    "err_verification-code-too-soon": "A code was sent a moment ago. Wait a minute before asking again.",
    "err_verification-codes-exhausted": "Too many codes today. Try again tomorrow.",
    "err_identifier-taken": "Another wallet has confirmed this phone or e-mail.",
    "err_identifier-verified": "This is already yours and confirmed.",
    balance: "Available balance", reserved: "Reserved by holds",
    scan: "Scan", pay_code: "Pay", receive: "Receive", send: "Send", red_packet: "Red packet",
    top_up: "Top up", history: "History", settings: "Settings", back: "Back", done: "Done",
    amount: "Amount (¥)", note: "Note (optional)", pin: "Payment PIN (6 digits)",
    confirm_pay: "Pay", confirm_allow: "Allow the hold", cancel: "Cancel",
    top_up_from_bank: "Top up from the bank", top_up_sent: "Asked the bank for {amount}…",
    top_up_done: "{amount} arrived from the bank.", top_up_declined: "The bank declined the top-up.",
    scan_hint: "Point the camera at a Saoma code.",
    scan_photo: "Choose or take a photo", scan_paste: "Or paste a code", read_code: "Read",
    camera_off: "The camera is not available: choose a photo or paste the code.",
    no_code_in_photo: "No code was found in that picture. Try again closer and steadier.",
    pay_to: "Pay {name}", allow_hold: "{name} asks to reserve",
    expires: "Valid until {time}", you_pay: "You pay {amount}",
    offer_line: "{name}: {discount} off — you pay {amount}",
    hold_text: "The money stays in your wallet, reserved until {time}. {name} can take at most this amount.",
    paid: "Paid {amount} to {name}", sent_to: "Sent {amount} to {name}",
    hold_done: "{amount} reserved for {name}", order_gone: "This order can no longer be paid ({state}).",
    enter_amount: "Enter the amount", person_pay: "Send money to {name}",
    paycode_title: "Show this to the cashier", paycode_note: "Refreshes every 30 seconds. Works offline.",
    paycode_enrol: "Turn on payment codes on this device",
    charge_ask: "{name} asks for {amount}", approve: "Approve", decline: "Decline",
    charge_paid: "Paid {amount} to {name}", charge_declined: "Declined.",
    my_code: "My code: friends scan it to pay me",
    to: "To (phone, e-mail or wallet id)", send_money: "Send money", waiting_claim: "Waiting for whoever owns {to} to confirm it in a wallet: returned to you after 24 hours if unclaimed.",
    packet_amount: "Total (¥)", packet_shares: "How many people", packet_mode: "Shares",
    mode_random: "Random (lucky draw)", mode_equal: "Equal", greeting: "Greeting",
    packet_default_greeting: "恭喜发财", create_packet: "Put money in the packet",
    packet_share: "Share this link or code", packet_open: "Open the red packet",
    packet_got: "You got {amount}!", packet_claims: "Claims", packet_luckiest: "luckiest",
    packet_left: "{count} of {shares} shares left", packet_from: "From {name}",
    no_history: "Nothing yet.", receipt: "Receipt", refunds: "Refunds",
    kind_order: "Order", kind_static: "Static code", kind_paycode: "Payment code", kind_capture: "Deposit",
    holds: "Holds", hold_until: "{amount} reserved until {time}", hold_taken: "{amount} taken of {total} reserved", hold_state_held: "reserved",
    hold_state_captured: "taken", hold_state_voided: "released", hold_state_expired: "released (expired)",
    hold_state_requested: "asked",
    set_pin: "Set payment PIN", new_pin: "New PIN (6 digits)", old_pin: "Current PIN",
    pay_pin: "Payment PIN (6 digits)", pin_rule: "Six digits you type to confirm each payment; not your password.",
    password_rule: "At least 8 characters.",
    login_rule: "A mobile number (11 digits, or with +country code) or an e-mail address.",
    pin_saved: "PIN saved.", no_pin_title: "Small payments without the PIN",
    per_payment: "Per payment up to (¥)", per_day: "Per day up to (¥)", save: "Save", saved: "Saved.",
    language: "Language", revoke_device: "Stop payment codes on this device",
    transfer_in: "From {name}", transfer_out: "To {name}", red_packet_claim: "Red packet",
    transfer_waiting: "Waiting to be claimed",
    time: "Time", note_col: "Note", status: "Status", merchant: "Merchant", discount: "Discount",
    // cashier
    stall_sign_in: "Sign in to the till", open_stall: "Open a stall in a minute",
    stall_name: "Stall name (Latin letters)", stall_name_zh: "Name in Chinese",
    stall_name_rule: "A name in Latin letters, in Chinese, or both: 25 characters each at most.", city: "City",
    category: "Kind of business", show_code: "Show code", scan_payer: "Scan payer's code",
    deposit: "Deposit (hold)", mute: "Mute", unmute: "Sound on", waiting_payment: "Waiting for payment…",
    received: "Received {amount}", received_speech: "Saoma received {amount} yuan",
    close_order: "Cancel", next_sale: "Next sale", payer_code: "Payer's payment code",
    scanner_hint: "Scan with the camera, or with a USB scanner into this field.",
    code_text: "The code as text (to paste into a wallet)",
    use_camera: "Use the camera", charge: "Charge", waiting_payer: "Waiting for the payer to confirm on the phone…",
    charge_refused: "The payer declined.", charge_expired: "The payer did not confirm in time.",
    hold_waiting: "Ask the customer to scan: deposit of {amount}", hold_held: "Deposit of {amount} held until {time}",
    capture: "Take", void: "Release", captured: "Took {amount}; the rest was released.",
    voided: "Released the deposit.", recent: "Recent payments", refund: "Refund",
    refund_confirm: "Refund {amount} to the payer? This cannot be undone.",
    refund_done: "Refunded {amount}.", sticker: "Printable sticker", static_code: "Static code",
    dashboard: "Dashboard", cashier: "Cashier", order_expired: "The code expired; start again.",
    // dashboard
    today: "Today", takings: "Takings", payments: "Payments", fees: "Fees", net: "Net",
    refunded: "Refunded", chart_hours: "Today per hour", chart_days: "Per day",
    data_age: "Read from a standby copy: these figures may be up to {s} s behind.",
    search: "Search (payment, order or note)", all_kinds: "All kinds", more: "Load more",
    statement: "Statement (CSV)", from: "From", until: "To", download: "Download",
    bad_range: "The first day must be on or before the last day.",
    webhooks: "Webhook deliveries", replay: "Replay", replayed: "Queued for delivery again.",
    webhook_url: "Webhook URL", keys: "API keys", add_key: "Add a public key (base64 Ed25519)",
    revoke: "Revoke", revoked: "Revoked", campaigns: "Campaigns", used: "Used", subsidy: "Subsidy",
    gross: "Gross", fee: "Fee", kind: "Kind", id: "ID", state: "State",
    webhook_secret: "Signing secret", show_secret: "Show", rotate_secret: "Rotate",
    secret_previous: "The previous secret also signs deliveries until {time}.",
    manager_pin_title: "Manager PIN", manager_pin: "Manager PIN (6 digits)",
    manager_pin_old: "Current manager PIN", manager_pin_saved: "Manager PIN saved.",
    manager_pin_note: "Refunds, the bank account, the webhook and API keys ask for it.",
    manager_pin_needed: "Enter the 6-digit manager PIN.",
    password_title: "Password and signed-in devices", password_current: "Current password",
    password_new: "New password (8 characters or more)", password_change: "Change the password",
    password_changed: "Password changed. Signed out elsewhere: {n}.",
    everywhere_note: "A lost tablet, a cashier gone: sign every till and dashboard out, this one too.",
    sign_out_everywhere: "Sign out everywhere",
    wallet_everywhere_note: "A lost phone: sign every device out and stop its payment codes, this one too.",
    "err_manager-pin-wrong": "Wrong manager PIN. Try again.",
    "err_manager-pin-not-set": "Set a manager PIN in the dashboard first.",
    "err_manager-pin-locked": "Too many wrong manager PINs: what needs it is locked for 15 minutes.",
    // start
    start_lead: "Saoma is an open QR-code payment platform: people pay by scanning a shop's code or showing their own, and the shop hears the money arrive in about a second.",
    open_wallet: "Open the wallet", open_cashier: "Open the cashier", open_dashboard: "Open the dashboard",
    demo_consumers: "Be a consumer", demo_merchants: "Be a merchant", demo_pin: "Every demo PIN is {pin}.",
    tour: "What to try",
    tour_1: "Open the noodle restaurant's cashier, type 25, Show code.",
    tour_2: "In another window, open Li Wei's wallet, Scan (or paste the code) and pay with the PIN: the cashier says so aloud.",
    tour_3: "In the wallet, Pay shows a one-time code; scan it in the grocery's cashier.",
    tour_4: "Send a red packet, open its link as another consumer.",
    tour_5: "See the takings and export a statement in the dashboard.",
    // errors
    err_generic: "Something went wrong. Nothing was charged.",
    err_network: "No connection. Nothing was charged; try again.",
    offline: "Offline: your payment code (Pay) still works; the balance shows when you are back online.",
    history_offline: "You are offline. Your history shows when you are back online.",
    history_offline_cached: "You are offline — showing what was loaded before. It updates when you are back online.",
    "err_pin-wrong": "Wrong PIN. Try again.",
    "err_pin-locked": "Too many wrong PINs: payments are locked for a while.",
    "err_pin-required": "Enter your payment PIN.",
    "err_pin-not-set": "Set a payment PIN first (Settings).",
    "err_insufficient-funds": "Not enough money in the wallet. Top up first.",
    "err_order-expired": "This code has expired. Ask for a new one.",
    "err_order-closed": "The merchant cancelled this order.",
    "err_order-paid": "This order is already paid.",
    "err_order-already-paid": "This order is already paid.",
    "err_order-not-payable": "This order can no longer be paid.",
    "err_code-expired": "This payment code has expired. Show a fresh one.",
    "err_code-used": "This payment code was already used. Show a fresh one.",
    "err_code-unreadable": "That is not a Saoma payment code.",
    "err_sign-in-failed": "Wrong login or password.",
    "err_login-taken": "There is already an account with this login. Sign in instead.",
    "err_unauthenticated": "Please sign in again.",
    "err_operator-forbidden": "Your role may not do this.",
    "err_dispute-refused": "This dispute cannot take that step now.",
    "err_frozen": "This account is frozen: money cannot leave it. See why and how to appeal on your account page.",
    "err_merchant-not-verified": "This merchant has reached what it can take before its business details are approved.",
    "err_kyc-not-pending": "These business details are not waiting for a decision.",
    "err_kyc-already-submitted": "The business details were already submitted.",
    kyc_title: "Business details",
    kyc_tag_unverified: "Not submitted", kyc_tag_pending: "In review",
    kyc_tag_approved: "Approved", kyc_tag_rejected: "Rejected",
    kyc_state_unverified: "Submit your business details. Until they are approved you can take up to {limit} a day ({taken} taken today).",
    kyc_state_pending: "We are reviewing your details. Until they are approved you can take up to {limit} a day ({taken} taken today).",
    kyc_state_approved: "Your business details are approved: no onboarding limit applies.",
    kyc_state_rejected: "Your details were not approved: {reason} Payments are refused until you correct them and submit them again.",
    kyc_legal_name: "Legal name (as on the business licence)",
    kyc_licence: "Licence number (unified social credit code)",
    kyc_category: "Merchant category code (4 digits)",
    kyc_owner_id: "Owner's ID number (resident ID or passport)",
    kyc_owner_note: "Stored encrypted; only its last four characters are ever shown.",
    kyc_on_file: "{name} · licence {licence} · owner ID {owner}",
    kyc_submit: "Submit for review", kyc_resubmit: "Submit again",
    kyc_submitted: "Submitted. Risk reviews the details; this page shows the answer.",
    kyc_fill_all: "Fill in every field.",
    "err_self-transfer": "That is your own code.",
    "err_daily-limit": "That is above today's limit.",
    "err_too-many-tries": "Too many wrong codes at this till: wait a minute.",
    "err_offer-unavailable": "The discount is no longer available. Check the new amount and pay again.",
    "err_packet-empty": "Too late: every share has been taken.",
    "err_packet-closed": "This red packet has closed.",
    "err_hold-expired": "The hold has expired and was released.",
    "err_charge-expired": "The till's request has expired.",
    "err_refund-exceeds-payment": "That is more than is left to refund.",
    "err_amount-too-large": "That amount is too large.",
    "err_not-found": "Not found: it may have been removed, or it is not yours.",
    "err_bad-amount": "Enter an amount like 25 or 25.50.",
    "err_invalid-request": "Please check what you entered.",
    invalid_to: "Enter the person's mobile number, e-mail address or wallet id.",
    invalid_login: "Enter a mobile number (11 digits, or with +country code) or an e-mail address.",
    invalid_identifier: "Enter a mobile number (11 digits, or with +country code) or an e-mail address.",
    invalid_password: "The password must be at least 8 characters.",
    invalid_Saoma_Manager_Pin: "Enter the 6-digit manager PIN.",
    invalid_pin: "The payment PIN is six digits.", invalid_old_pin: "The current payment PIN is six digits.",
    invalid_amount: "Enter an amount in yuan, such as 12.50.",
    invalid_note: "The note is too long or has characters that cannot be sent.",
    invalid_display_name: "The name is 64 characters at most.",
    invalid_name: "The name is 25 characters at most.",
    invalid_name_zh: "The Chinese name is 25 characters at most.",
    invalid_city: "The city is 15 characters at most.",
    invalid_url: "Enter a web address starting with https:// that is reachable from the internet.",
    invalid_webhook_url: "Enter a web address starting with https:// that is reachable from the internet.",
    invalid_code: "The code is the six digits we sent.",
    invalid_per_payment: "Enter an amount in yuan for each payment.",
    invalid_per_day: "Enter an amount in yuan for each day, at least the amount per payment.",
    "err_body-too-large": "That is too much to send at once. Try again with less.",
    "err_overloaded": "Saoma is very busy right now and did nothing with this. Try again in a moment.",
    "err_method-not-allowed": "This action is not available here.",
    "err_http-error": "The request could not be handled. Please try again.",
    "err_internal-error": "Something went wrong on our side. Nothing was charged.",
    "err_idempotency-key-required": "This request could not be sent safely. Reload the page and try again.",
    "err_idempotency-key-reused": "This request was already sent with other details. Reload the page and try again.",
    "err_request-in-progress": "Still working on it. Please wait a moment.",
    "err_password-wrong": "Wrong password.",
    "err_signature-missing": "The request is not signed.",
    "err_signature-invalid": "The request's signature is not valid.",
    "err_timestamp-out-of-range": "The clock on this device is wrong. Set the right time and try again.",
    "err_key-unknown": "The signing key is unknown or has expired.",
    "err_nonce-reused": "This request was already sent once.",
    "err_pin-busy": "Your PIN is being checked elsewhere. Try again in a moment.",
    "err_identifier-unknown": "Add this phone number or e-mail to your wallet first.",
    "err_currency-mismatch": "The currencies do not match, so this cannot be paid.",
    "err_ledger-refused": "The payment could not be made. Nothing was charged.",
    "err_order-number-reused": "This order number was already used for another order.",
    "err_refund-number-reused": "This refund number was already used for another refund.",
    "err_hold-not-open": "This pre-authorisation is no longer open.",
    "err_hold-reference-reused": "This pre-authorisation reference was already used.",
    "err_hold-already-captured": "This pre-authorisation was already charged.",
    "err_capture-exceeds-hold": "That is more than the amount held.",
    "err_code-malformed": "That is not a valid payment code. Scan it again.",
    "err_code-unknown": "This payment code is not valid. Ask the customer to refresh it.",
    "err_campaign-ended": "This promotion has ended.",
    "err_conflict": "Something changed at the same moment. Please try again.",
    "err_bank-account-missing": "Add a bank account (and wait for the bank to confirm it) first.",
    "err_nothing-to-settle": "There is nothing to pay out yet.",
    // dashboard: settlements
    stl_title: "Settlements", stl_bank: "Bank account",
    stl_bank_none: "No bank account yet: your takings wait here until you add one and the bank confirms it.",
    stl_bank_in_use: "Payouts go to {account}", stl_bank_add: "Add a bank account", stl_bank_change: "Change the bank account",
    stl_bank_latest_verifying: "The new account {number} is being verified by the bank…",
    stl_bank_latest_failed: "The bank could not verify {number}: {reason}.",
    stl_holder: "Account holder's name", stl_number: "Account number", stl_bank_name: "Bank name (optional)",
    stl_bank_send: "Send to the bank to verify", stl_bank_verifying: "Sent to the bank: verifying {number}…",
    stl_bank_verified: "The bank confirmed {number}: payouts go to it from now on.",
    stl_bank_failed: "The bank could not verify {number}: {reason}.",
    stl_bank_slow: "The bank has not answered yet: the outcome shows here when it does.",
    bank_state_verifying: "being verified", bank_state_verified: "verified", bank_state_failed: "not verified",
    bank_state_replaced: "replaced",
    stl_fail_no_account: "there is no such account", stl_fail_frozen: "the account is frozen",
    stl_fail_timeout: "the bank did not answer in time", stl_fail_other: "the bank refused it",
    stl_bad_holder_name: "Enter the account holder's name (up to 70 characters).",
    stl_bad_account_number: "Enter the account number: 8 to 34 digits.",
    stl_bad_bank_name: "The bank's name is at most 70 characters.",
    stl_bad_cursor: "The next page could not be read. The CSV download has the whole statement.",
    stl_schedule: "When you are paid",
    stl_t1: "T+1: every day, the day's takings paid the next morning (cut-off 00:00)",
    stl_t0: "T+0: every day, paid the same day at {hour}",
    stl_weekly: "Weekly, on the day below (cut-off 00:00)", stl_weekday: "Day of the week",
    day_monday: "Monday", day_tuesday: "Tuesday", day_wednesday: "Wednesday", day_thursday: "Thursday",
    day_friday: "Friday", day_saturday: "Saturday", day_sunday: "Sunday",
    stl_terms_save: "Save the schedule", stl_terms_saved: "Schedule saved.",
    stl_instant: "Instant payout", stl_instant_ask: "Pay me now", stl_instant_confirm: "Pay me now",
    stl_instant_note: "Be paid now what you have, up to {limit} at a time, for a fee of {rate} of what is paid.",
    stl_instant_text: "Pay out now what you have, up to {limit}, to {account}? The fee is {rate} of what is paid (at most {fee}). This cannot be undone.",
    stl_instant_sent: "Payout of {amount} sent to the bank…", stl_instant_paid: "{amount} was paid to your bank account.",
    stl_instant_failed: "The payout of {amount} failed: {reason}. It is paid again once the bank confirms another account of yours.",
    stl_instant_none: "Nothing could be paid now: it is carried into the next settlement.",
    stl_list: "Settlements", stl_date: "Business date", stl_period: "Period covered", stl_splits: "Splits",
    stl_reserve: "Reserve", stl_payout: "Payout", stl_bank_ref: "Bank reference", stl_statement: "Statement",
    stl_instant_tag: "instant", stl_period_until: "until {end}", stl_none: "No settlement yet.",
    stl_state_closed: "Closed, to be paid", stl_state_paying: "Being paid", stl_state_paid: "Paid",
    stl_state_failed: "Payout failed", stl_state_carried: "Carried into the next settlement",
    stl_state_nothing: "Nothing to pay",
    stl_stmt_title: "Statement of {date}", stl_other: "Other", stl_carried_in: "Carried in",
    stl_carried_out: "Carried out", stl_paid_at: "Paid at", stl_why: "Why", stl_lines: "Lines",
    stl_csv: "Download CSV", stl_json: "Download JSON", stl_close: "Close the statement",
    stl_json_done: "Downloaded {count} lines.", stl_payment_id: "Payment ID", stl_refund_id: "Refund ID",
    amount_col: "Amount",
    line_payment: "Payment", line_capture: "Deposit taken", line_fee: "Fee", line_refund: "Refund",
    line_split: "Split", line_reserve: "Reserve", line_subsidy: "Campaign subsidy",
    line_budget: "Campaign budget", line_carried: "Carried over", line_other: "Other",

    // Disputes (disputes.js)
    dp_title: "Disputes", dp_report: "Report a problem", dp_reason: "What went wrong",
    dp_text: "Tell us what happened", dp_photo_add: "Photo (optional)", dp_photo: "Photo",
    dp_send: "Send to the merchant", dp_none: "No disputes.", dp_withdraw: "Withdraw",
    dp_answer_by: "The merchant answers by {time}", dp_refund: "Refund {amount}",
    dp_contest: "Contest", dp_your_side: "Your side (for contesting)",
    dp_manager_pin: "Manager PIN (for refunding)",
    dp_reason_not_received: "Not received", dp_reason_not_as_described: "Not as described",
    dp_reason_charged_twice: "Charged twice", dp_reason_unauthorised: "I did not make this payment",
    dp_reason_other: "Something else",
    dp_state_open: "Waiting for the merchant", dp_state_contested: "Contested: support decides",
    dp_state_escalated: "With support", dp_state_refunded: "Refunded",
    dp_state_decided_for_payer: "Decided: refunded", dp_state_decided_for_merchant: "Decided for the merchant",
    dp_state_withdrawn: "Withdrawn",
    dp_actor_payer: "Payer", dp_actor_merchant: "Merchant", dp_actor_support: "Support", dp_actor_system: "Saoma",
    dp_kind_opened: "Opened", dp_kind_refunded: "Refunded", dp_kind_contested: "Contested",
    dp_kind_escalated: "No answer in time: sent to support", dp_kind_decided: "Decided",
    dp_kind_withdrawn: "Withdrawn",
    // words: the field to fix when a request is refused, as a sentence
    invalid_payload: "That is not a Saoma code. Scan it again or paste the whole code.",
    invalid_shares: "Enter how many people share the packet: 1 to 100.",
    invalid_greeting: "The greeting is too long.",
    invalid_manager_pin: "The manager PIN is six digits.",
    invalid_category_code: "Choose the kind of business.",
    invalid_legal_name: "Enter the legal name as on the business licence.",
    invalid_licence_number: "Enter the licence number (unified social credit code).",
    invalid_owner_id_number: "Check the owner's ID number: an 18-character resident ID, whose last character is a check digit (0–9 or X) that must match the others, or a passport number.",
    invalid_message: "Write the message the merchant will see: what to fix before applying again.",
    invalid_holder_name: "Enter the account holder's name (up to 70 characters).",
    invalid_account_number: "Enter the account number: 8 to 34 digits.",
    invalid_bank_name: "The bank's name is at most 70 characters.",
    invalid_public_key: "Paste the public key in base64 (an Ed25519 key).",
    invalid_q: "Search with fewer or plainer characters.",
    invalid_text: "Tell what happened in fewer words.",
    invalid_reason: "Choose what went wrong.",
    invalid_reason_shown: "Write the reason the person will see.",
    invalid_appeal: "Write how the person can appeal.",
    invalid_from: "Choose a first day.",
    invalid_days: "Choose how many days to show.",
    invalid_currency: "Only yuan (CNY) can be used here.",
    invalid_body: "The page sent something the server could not read. Reload the page and try again.",
    // Bills (bills.js)
    bills_month: "Month", bills_kind: "Kind", bills_kind_all: "Everything", bills_kind_payment: "Payments",
    bills_kind_refund: "Refunds", bills_kind_transfer: "Transfers", bills_kind_red_packet: "Red packets",
    bills_kind_top_up: "Top-ups", bills_kind_withdrawal: "Withdrawals", bills_kind_hold: "Holds",
    bill_payment: "Payment", bill_refund: "Refund", bill_capture: "Deposit taken", bill_hold: "Deposit reserved",
    bill_release: "Deposit released", bill_transfer_out: "Money sent", bill_transfer_in: "Money received",
    bill_transfer_returned: "Money back (not claimed)", bill_red_packet_sent: "Red packet sent",
    bill_red_packet_claimed: "Red packet opened", bill_red_packet_returned: "Red packet money back",
    bill_top_up: "Top-up", bill_withdrawal: "Withdrawal to the bank",
    bill_state_done: "Done", bill_state_pending: "Waiting for the bank", bill_state_waiting: "Waiting to be claimed",
    bill_state_returned: "Came back to you", bill_state_failed: "Failed: the money stayed in your wallet",
    bill_state_held: "Reserved", bill_state_captured: "Taken", bill_state_released: "Released",
    bill_state_expired: "Expired", bill_state_refunded: "Refunded", bill_state_partly_refunded: "Partly refunded",
    bill_state_open: "Still open", bill_state_emptied: "All opened",
    bill_refunded: "Refunded {amount}", bill_discount: "{amount} off", bill_of_hold: "of a {amount} deposit",
    bill_with: "With", bill_state: "Status", bill_greeting: "Greeting", bill_until: "Until",
    bill_bank_reference: "Bank reference",
    bill_arrived: "Money received: {amount}.", bill_arrived_from: "Money received: {amount} from {name}.",
    // wallet: paying, people and extras
    was_price: "Before the discount", pin_pad_hint: "Sent as soon as the sixth digit is typed.",
    pay_amount: "Pay {amount}", send_amount: "Send {amount}",
    sent_waiting: "{amount} is waiting to be claimed",
    top_up_then_pay: "Top up {amount} and come back to this payment",
    top_up_back: "{amount} arrived. Type your PIN to pay.",
    recipient_is: "Recipient: {name}",
    recipient_waits: "Nobody has confirmed this number or e-mail in a wallet yet: the money waits for its owner and comes back to you after 24 hours if unclaimed.",
    "err_recipient-unknown": "No wallet has this id. Check it and try again.",
    packet_you_got: "You got", packet_all_taken: "All shares have been taken.",
    packet_no_claims: "Nobody has opened it yet.",
    withdraw: "Withdraw", withdraw_title: "Withdraw to the bank", bank_transfers: "To and from the bank",
    withdraw_sent: "Sending {amount} to your bank…", withdraw_done: "{amount} was sent to your bank.",
    withdraw_failed: "The bank refused the withdrawal: the money is back in your wallet.",
    bank_withdrawal: "Withdrawal to the bank", bank_top_up: "Top-up from the bank",
    bt_state_pending: "in progress", bt_state_succeeded: "done", bt_state_failed: "refused",
    // wallet follow-ups: offline, red packet PIN pad, states in words, recipient lookups
    offline_banner: "Offline: your payment code (Pay) still works; everything else waits for the connection.",
    offline_paycode: "Offline: this payment code still works. Show it to the cashier.",
    offline_wait: "You are offline: this waits for the connection. Nothing was sent.",
    offline_scan: "You are offline: codes are read once you are back online. Nothing was paid.",
    offline_enrol: "Payment codes are turned on for this phone the first time you open Pay online. Try again once you are back online.",
    hold_gone_held: "You already allowed this hold.",
    hold_gone_voided: "The merchant released this hold: there is nothing to allow.",
    packet_expired: "This red packet has expired: what was left went back to the sender.",
    "err_too-many-lookups": "You looked up many recipients in a short time. Wait a few minutes, then try again.",
    "err_too-many-sign-ins": "Too many wrong passwords. Wait a few minutes, then try again.",
    // mini-programs: what a service's refusal says
    "err_order-not-of-service": "This service asked to be paid for another shop's order: the wallet did not show it.",
    "err_mandate-not-of-service": "This service asked you to agree to another shop's mandate: the wallet did not show it.",
    "err_invalid-grant": "This sign-in code was already used or has expired: sign in to the service again.",
    "err_access-token-invalid": "You withdrew this service's access, or it has expired: sign in to the service again.",
    "err_database-unavailable": "Saoma cannot reach its database for a moment. Nothing was done twice: try again in a few seconds.",
    "err_not-ready": "Saoma is starting or being updated. Try again in a minute.",
    // mandates (mandates.js)
    md_title: "Mandates", md_intro: "Merchants you allow to debit you again and again, within limits, after a notice a day before.",
    md_terms: "Up to {amount} a debit, {frequency}, from {start} to {end}",
    md_freq_daily: "once a day at most", md_freq_weekly: "once a week at most", md_freq_monthly: "once a month at most",
    md_next: "Next: {amount} from {time}", md_next_unknown: "Next: from {time} at the earliest, announced a day before",
    md_notice: "Announced: {amount} from {time}", md_object: "Object",
    md_debits: "Debits", md_no_debits: "No debit yet.", md_debited: "debited", md_none: "No mandates.",
    md_agree: "Agree with PIN", md_decline: "Decline", md_pause: "Pause", md_resume: "Resume", md_revoke: "Revoke",
    md_state_requested: "asks you", md_state_active: "active", md_state_paused: "paused", md_state_revoked: "revoked",
    "err_mandate-not-requested": "This mandate was already answered.",
    "err_mandate-not-agreed": "The payer has not agreed to this mandate yet.",
    "err_mandate-paused": "The mandate is paused: nothing is debited until it is resumed.",
    "err_mandate-revoked": "The mandate was revoked: nothing more is debited under it.",
    "err_mandate-not-started": "The mandate has not started yet.",
    "err_mandate-ended": "The mandate has ended.",
    "err_mandate-amount-above-max": "Refused: more than the most allowed per debit.",
    "err_mandate-too-soon": "Refused: more often than the mandate allows.",
    "err_mandate-notice-missing": "Refused: no notice was sent for this debit.",
    "err_mandate-notice-too-recent": "Refused: the notice was sent less than a day before.",
    "err_mandate-notice-objected": "Refused: you objected to the notice.",
    "err_mandate-notice-amount": "Refused: not the amount the notice announced.",
    "err_mandate-notice-used": "Refused: a debit was made on this notice already.",
    "err_mandate-notice-expired": "Refused: the notice had expired.",
  },
  zh: {
    skip: "跳到内容",
    title_start: "开放的扫码支付", title_wallet: "钱包", title_cashier: "收银台", title_dashboard: "商户后台",
    demo_banner: "演示模式：虚构的深圳，任何人都可以登录任何账户。不是真钱。",
    sign_in: "登录", sign_up: "开通钱包", sign_out: "退出登录",
    login: "手机号或邮箱", password: "登录密码", display_name: "你的名字",
    have_account: "我已有钱包", no_account: "第一次用？开通钱包",
    demo_messages: "沙箱发出的消息", demo_messages_none: "还没有消息：注册后会收到验证码。",
    verify_title: "验证手机号或邮箱", verify_code: "验证码（6位）", verify: "验证",
    verify_resend: "重新发送验证码", later: "稍后",
    verify_sent: "验证码已发送到 {to}。验证之前，别人转给 {to} 的钱会等你（一天后退回）。",
    verify_sandbox: "沙箱消息（演示中不会发出短信或邮件）：{text}",
    verify_resent: "新的验证码已发送。", verify_done: "{to} 已验证：转给它的钱会到你的钱包。",
    unverified: "{to} 还未验证：转给它的钱在等待。",
    ids_title: "手机号和邮箱", ids_add_label: "添加手机号或邮箱", ids_add: "添加",
    id_verified: "已验证", id_unverified: "未验证",
    "err_verification-code-wrong": "验证码错误，请核对后重试。",
    "err_verification-code-expired": "验证码已过期，请重新获取。",
    "err_verification-code-locked": "错误次数过多，请重新获取验证码。",
    "err_verification-code-too-soon": "验证码刚刚发送，请一分钟后再试。",
    "err_verification-codes-exhausted": "今天发送的验证码太多，请明天再试。",
    "err_identifier-taken": "该手机号或邮箱已被其他钱包验证。",
    "err_identifier-verified": "该手机号或邮箱已验证，无需重复操作。",
    balance: "可用余额", reserved: "预授权冻结",
    scan: "扫一扫", pay_code: "付款码", receive: "收钱", send: "转账", red_packet: "红包",
    top_up: "充值", history: "账单", settings: "设置", back: "返回", done: "完成",
    amount: "金额（元）", note: "备注（可选）", pin: "支付密码（6位）",
    confirm_pay: "付款", confirm_allow: "同意预授权", cancel: "取消",
    top_up_from_bank: "从银行充值", top_up_sent: "已向银行申请 {amount}…",
    top_up_done: "{amount} 已从银行到账。", top_up_declined: "银行拒绝了这笔充值。",
    scan_hint: "将摄像头对准扫码二维码。",
    scan_photo: "选择或拍摄照片", scan_paste: "或粘贴码", read_code: "识别",
    camera_off: "无法使用摄像头：请选择照片或粘贴码。",
    no_code_in_photo: "图片中没有找到二维码。请靠近一点、拿稳再试。",
    pay_to: "付款给 {name}", allow_hold: "{name} 申请预授权",
    expires: "有效期至 {time}", you_pay: "实付 {amount}",
    offer_line: "{name}：立减 {discount}，实付 {amount}",
    hold_text: "钱留在你的钱包里，冻结至 {time}。{name} 最多只能扣这个金额。",
    paid: "已付款 {amount} 给 {name}", sent_to: "已转账 {amount} 给 {name}",
    hold_done: "已为 {name} 冻结 {amount}", order_gone: "该订单已无法支付（{state}）。",
    enter_amount: "输入金额", person_pay: "转账给 {name}",
    paycode_title: "向收银员出示", paycode_note: "每30秒刷新，离线可用。",
    paycode_enrol: "在本设备开启付款码",
    charge_ask: "{name} 请求收款 {amount}", approve: "确认付款", decline: "拒绝",
    charge_paid: "已付款 {amount} 给 {name}", charge_declined: "已拒绝。",
    my_code: "我的收款码：朋友扫码付给我",
    to: "收款人（手机号、邮箱或钱包号）", send_money: "转账", waiting_claim: "等待 {to} 的主人在钱包中验证：24小时内未领取将退回给你。",
    packet_amount: "总金额（元）", packet_shares: "红包个数", packet_mode: "分配方式",
    mode_random: "拼手气", mode_equal: "普通（平分）", greeting: "祝福语",
    packet_default_greeting: "恭喜发财", create_packet: "塞钱进红包",
    packet_share: "分享链接或二维码", packet_open: "拆红包",
    packet_got: "你抢到了 {amount}！", packet_claims: "领取详情", packet_luckiest: "手气最佳",
    packet_left: "剩余 {count}/{shares} 个", packet_from: "{name} 的红包",
    no_history: "暂无记录。", receipt: "收据", refunds: "退款",
    kind_order: "订单", kind_static: "收款码", kind_paycode: "付款码", kind_capture: "押金",
    holds: "预授权", hold_until: "冻结 {amount} 至 {time}", hold_taken: "冻结 {total}，已扣 {amount}", hold_state_held: "冻结中",
    hold_state_captured: "已扣款", hold_state_voided: "已解冻", hold_state_expired: "已过期解冻",
    hold_state_requested: "待同意",
    set_pin: "设置支付密码", new_pin: "新支付密码（6位数字）", old_pin: "当前支付密码",
    pay_pin: "支付密码（6位数字）", pin_rule: "确认每笔付款时输入的6位数字，请勿与登录密码相同。",
    password_rule: "登录密码至少8个字符。",
    login_rule: "手机号（11位，或带+国家代码）或电子邮箱。",
    pin_saved: "支付密码已保存。", no_pin_title: "小额免密支付",
    per_payment: "单笔不超过（元）", per_day: "每日不超过（元）", save: "保存", saved: "已保存。",
    language: "语言", revoke_device: "停用本设备的付款码",
    transfer_in: "来自 {name}", transfer_out: "转给 {name}", red_packet_claim: "红包",
    transfer_waiting: "待领取",
    time: "时间", note_col: "备注", status: "状态", merchant: "商户", discount: "优惠",
    stall_sign_in: "登录收银台", open_stall: "一分钟开店",
    stall_name: "英文店名", stall_name_zh: "中文店名",
    stall_name_rule: "填写中文店名、英文店名或两者，每个最多 25 个字符。", city: "城市",
    category: "经营类别", show_code: "出示收款码", scan_payer: "扫顾客付款码",
    deposit: "押金（预授权）", mute: "静音", unmute: "开启声音", waiting_payment: "等待付款…",
    received: "收款 {amount}", received_speech: "扫码收款 {amount} 元",
    close_order: "取消", next_sale: "下一单", payer_code: "顾客付款码",
    scanner_hint: "用摄像头扫码，或用扫码枪扫入此输入框。",
    code_text: "二维码文本（可粘贴到钱包）",
    use_camera: "使用摄像头", charge: "收款", waiting_payer: "等待顾客在手机上确认…",
    charge_refused: "顾客拒绝了付款。", charge_expired: "顾客未及时确认。",
    hold_waiting: "请顾客扫码：押金 {amount}", hold_held: "押金 {amount} 已冻结至 {time}",
    capture: "扣款", void: "解冻", captured: "已扣款 {amount}，其余已解冻。",
    voided: "押金已解冻。", recent: "最近收款", refund: "退款",
    refund_confirm: "确定退款 {amount} 给顾客？此操作不可撤销。",
    refund_done: "已退款 {amount}。", sticker: "打印收款码贴纸", static_code: "收款码",
    dashboard: "商户后台", cashier: "收银台", order_expired: "二维码已过期，请重新收款。",
    today: "今日", takings: "收款", payments: "笔数", fees: "手续费", net: "净收入",
    refunded: "退款", chart_hours: "今日每小时", chart_days: "每日",
    data_age: "数据读自备用副本，最多可能落后 {s} 秒。",
    search: "搜索（支付单号、订单号或备注）", all_kinds: "全部类型", more: "加载更多",
    statement: "对账单（CSV）", from: "从", until: "到", download: "下载",
    bad_range: "开始日期不能晚于结束日期。",
    webhooks: "Webhook 推送", replay: "重新推送", replayed: "已重新排队推送。",
    webhook_url: "Webhook 地址", keys: "API 密钥", add_key: "添加公钥（base64 Ed25519）",
    revoke: "吊销", revoked: "已吊销", campaigns: "营销活动", used: "已使用", subsidy: "补贴",
    gross: "总额", fee: "手续费", kind: "类型", id: "编号", state: "状态",
    webhook_secret: "签名密钥", show_secret: "显示", rotate_secret: "更换",
    secret_previous: "在 {time} 之前，推送也同时用旧密钥签名。",
    manager_pin_title: "店长密码", manager_pin: "店长密码（6 位数字）",
    manager_pin_old: "当前店长密码", manager_pin_saved: "店长密码已保存。",
    manager_pin_note: "退款、更改银行账户、Webhook 和 API 密钥时需要输入。",
    manager_pin_needed: "请输入 6 位数字的店长密码。",
    password_title: "登录密码与已登录设备", password_current: "当前登录密码",
    password_new: "新登录密码（至少 8 个字符）", password_change: "修改登录密码",
    password_changed: "登录密码已修改。已退出其他设备：{n} 个。",
    everywhere_note: "平板丢失或收银员离职：退出所有收银台和后台的登录，包括本设备。",
    sign_out_everywhere: "退出所有设备",
    wallet_everywhere_note: "手机丢失：退出所有设备的登录并停用其付款码，包括本设备。",
    "err_manager-pin-wrong": "店长密码错误，请重试。",
    "err_manager-pin-not-set": "请先在商户后台设置店长密码。",
    "err_manager-pin-locked": "店长密码错误次数过多，相关操作已锁定 15 分钟。",
    start_lead: "扫码是开放的二维码支付平台：扫商家的码或出示自己的付款码即可付款，商家约一秒就能听到到账播报。",
    open_wallet: "打开钱包", open_cashier: "打开收银台", open_dashboard: "打开商户后台",
    demo_consumers: "作为顾客", demo_merchants: "作为商户", demo_pin: "演示账户的支付密码都是 {pin}。",
    tour: "试试这些",
    tour_1: "打开老陈面馆的收银台，输入 25，出示收款码。",
    tour_2: "在另一个窗口打开李伟的钱包，扫一扫（或粘贴码），输入支付密码：收银台会语音播报。",
    tour_3: "在钱包里打开付款码，到生鲜超市的收银台扫它。",
    tour_4: "发一个红包，用另一位顾客打开链接抢红包。",
    tour_5: "在商户后台查看收款并导出对账单。",
    err_generic: "出了点问题，没有扣款。",
    err_network: "网络连接失败，没有扣款，请重试。",
    offline: "离线：付款码仍可使用；联网后显示余额。",
    history_offline: "您已离线，联网后显示账单。",
    history_offline_cached: "您已离线，以下是之前加载的账单，联网后自动更新。",
    "err_pin-wrong": "支付密码错误，请重试。",
    "err_pin-locked": "支付密码错误次数过多，暂时锁定。",
    "err_pin-required": "请输入支付密码。",
    "err_pin-not-set": "请先在设置中设置支付密码。",
    "err_insufficient-funds": "余额不足，请先充值。",
    "err_order-expired": "二维码已过期，请让商家重新出示。",
    "err_order-closed": "商家已取消该订单。",
    "err_order-paid": "该订单已支付。",
    "err_order-already-paid": "该订单已支付。",
    "err_order-not-payable": "该订单已无法支付。",
    "err_code-expired": "付款码已过期，请刷新。",
    "err_code-used": "付款码已使用，请刷新。",
    "err_code-unreadable": "这不是扫码的付款码。",
    "err_sign-in-failed": "账号或密码错误。",
    "err_login-taken": "该账号已存在，请直接登录。",
    "err_unauthenticated": "请重新登录。",
    "err_operator-forbidden": "您的角色无权执行此操作。",
    "err_dispute-refused": "该争议当前无法执行此操作。",
    "err_frozen": "该账户已被冻结，资金无法转出。请在账户页面查看原因及申诉方式。",
    "err_merchant-not-verified": "该商户在营业资料审核通过前可收的款项已达上限。",
    "err_kyc-not-pending": "该营业资料不在待审核状态。",
    "err_kyc-already-submitted": "营业资料已提交。",
    kyc_title: "营业资料",
    kyc_tag_unverified: "未提交", kyc_tag_pending: "审核中",
    kyc_tag_approved: "已通过", kyc_tag_rejected: "未通过",
    kyc_state_unverified: "请提交营业资料。审核通过前每天最多可收 {limit}（今日已收 {taken}）。",
    kyc_state_pending: "营业资料审核中。审核通过前每天最多可收 {limit}（今日已收 {taken}）。",
    kyc_state_approved: "营业资料已审核通过，不再有入驻限额。",
    kyc_state_rejected: "营业资料未通过：{reason} 修改后重新提交前，收款将被拒绝。",
    kyc_legal_name: "法定名称（与营业执照一致）",
    kyc_licence: "统一社会信用代码",
    kyc_category: "商户类别码（4 位数字）",
    kyc_owner_id: "负责人证件号码（身份证或护照）",
    kyc_owner_note: "加密保存，只显示最后四位。",
    kyc_on_file: "{name} · 执照 {licence} · 证件 {owner}",
    kyc_submit: "提交审核", kyc_resubmit: "重新提交",
    kyc_submitted: "已提交，风控审核后本页会显示结果。",
    kyc_fill_all: "请填写所有字段。",
    "err_self-transfer": "这是你自己的码。",
    "err_daily-limit": "超出今日限额。",
    "err_too-many-tries": "本收银台错误次数过多，请稍等一分钟。",
    "err_offer-unavailable": "优惠已用完，请确认新金额后再付款。",
    "err_packet-empty": "手慢了，红包已被抢完。",
    "err_packet-closed": "红包已结束。",
    "err_hold-expired": "预授权已过期并解冻。",
    "err_charge-expired": "收款请求已过期。",
    "err_refund-exceeds-payment": "超出可退金额。",
    "err_amount-too-large": "金额太大。",
    "err_not-found": "找不到：可能已删除，或不属于你。",
    "err_bad-amount": "请输入金额，例如 25 或 25.50。",
    "err_invalid-request": "请检查填写的内容。",
    invalid_to: "请输入对方的手机号、邮箱或钱包号。",
    invalid_login: "请输入手机号（11位，或带+国家代码）或电子邮箱。",
    invalid_identifier: "请输入手机号（11位，或带+国家代码）或电子邮箱。",
    invalid_password: "登录密码至少8个字符。",
    invalid_Saoma_Manager_Pin: "请输入 6 位数字的店长密码。",
    invalid_pin: "支付密码为6位数字。", invalid_old_pin: "当前支付密码为6位数字。",
    invalid_amount: "请输入金额（元），例如 12.50。",
    invalid_note: "备注过长或含有无法发送的字符。",
    invalid_display_name: "名字最多64个字符。",
    invalid_name: "名称最多25个字符。",
    invalid_name_zh: "中文名称最多25个字符。",
    invalid_city: "城市名称最多15个字符。",
    invalid_url: "请输入以 https:// 开头、可从互联网访问的网址。",
    invalid_webhook_url: "请输入以 https:// 开头、可从互联网访问的网址。",
    invalid_code: "验证码是我们发送的6位数字。",
    invalid_per_payment: "请输入单笔金额（元）。",
    invalid_per_day: "请输入每日金额（元），不低于单笔金额。",
    "err_body-too-large": "提交的内容过多，请精简后重试。",
    "err_overloaded": "系统繁忙，本次操作未执行，请稍后重试。",
    "err_method-not-allowed": "暂不支持该操作。",
    "err_http-error": "请求无法处理，请重试。",
    "err_internal-error": "系统繁忙，没有扣款，请稍后重试。",
    "err_idempotency-key-required": "请求无法安全提交，请刷新页面后重试。",
    "err_idempotency-key-reused": "该请求已用不同内容提交过，请刷新页面后重试。",
    "err_request-in-progress": "正在处理中，请稍候。",
    "err_password-wrong": "登录密码错误。",
    "err_signature-missing": "请求缺少签名。",
    "err_signature-invalid": "请求签名无效。",
    "err_timestamp-out-of-range": "设备时间不准确，请校准后重试。",
    "err_key-unknown": "签名密钥不存在或已过期。",
    "err_nonce-reused": "该请求已提交过，请勿重复提交。",
    "err_pin-busy": "支付密码正在验证中，请稍后重试。",
    "err_identifier-unknown": "请先将该手机号或邮箱添加到钱包。",
    "err_currency-mismatch": "币种不一致，无法支付。",
    "err_ledger-refused": "交易未能完成，没有扣款。",
    "err_order-number-reused": "该商户订单号已被其他订单使用。",
    "err_refund-number-reused": "该退款单号已被其他退款使用。",
    "err_hold-not-open": "该预授权已完成或已撤销。",
    "err_hold-reference-reused": "该预授权单号已被使用。",
    "err_hold-already-captured": "该预授权已完成扣款。",
    "err_capture-exceeds-hold": "扣款金额超过预授权金额。",
    "err_code-malformed": "付款码格式不正确，请重新扫描。",
    "err_code-unknown": "付款码无效，请让顾客刷新付款码。",
    "err_campaign-ended": "该活动已结束。",
    "err_conflict": "操作冲突，请稍后重试。",
    "err_bank-account-missing": "请先添加银行账户（并等待银行确认）。",
    "err_nothing-to-settle": "暂无可结算的金额。",
    // 商户后台：结算
    stl_title: "结算", stl_bank: "银行账户",
    stl_bank_none: "还没有银行账户：添加并经银行确认之前，收款会留在这里。",
    stl_bank_in_use: "打款到 {account}", stl_bank_add: "添加银行账户", stl_bank_change: "更换银行账户",
    stl_bank_latest_verifying: "新账户 {number} 正在由银行验证…",
    stl_bank_latest_failed: "银行未能验证 {number}：{reason}。",
    stl_holder: "开户人姓名", stl_number: "银行账号", stl_bank_name: "开户银行（可选）",
    stl_bank_send: "提交银行验证", stl_bank_verifying: "已提交银行：正在验证 {number}…",
    stl_bank_verified: "银行已确认 {number}：今后打款到该账户。",
    stl_bank_failed: "银行未能验证 {number}：{reason}。",
    stl_bank_slow: "银行尚未答复：有结果后会显示在这里。",
    bank_state_verifying: "验证中", bank_state_verified: "已验证", bank_state_failed: "验证未通过",
    bank_state_replaced: "已更换",
    stl_fail_no_account: "账户不存在", stl_fail_frozen: "账户已冻结",
    stl_fail_timeout: "银行未及时答复", stl_fail_other: "银行拒绝了该笔打款",
    stl_bad_holder_name: "请输入开户人姓名（不超过 70 个字符）。",
    stl_bad_account_number: "请输入银行账号：8 至 34 位数字。",
    stl_bad_bank_name: "开户银行名称不超过 70 个字符。",
    stl_bad_cursor: "无法读取下一页。下载 CSV 可获得完整对账单。",
    stl_schedule: "结算周期",
    stl_t1: "T+1：每天结算，当天收款次日上午到账（截止 00:00）",
    stl_t0: "T+0：每天结算，当天 {hour} 到账",
    stl_weekly: "每周结算，在下面选择的那天（截止 00:00）", stl_weekday: "星期",
    day_monday: "星期一", day_tuesday: "星期二", day_wednesday: "星期三", day_thursday: "星期四",
    day_friday: "星期五", day_saturday: "星期六", day_sunday: "星期日",
    stl_terms_save: "保存结算周期", stl_terms_saved: "结算周期已保存。",
    stl_instant: "即时提现", stl_instant_ask: "立即提现", stl_instant_confirm: "立即提现",
    stl_instant_note: "立即提取已有的资金，每次最多 {limit}，手续费为提现金额的 {rate}。",
    stl_instant_text: "立即提现最多 {limit} 到 {account}？手续费为提现金额的 {rate}（最多 {fee}）。此操作不可撤销。",
    stl_instant_sent: "{amount} 的提现已提交银行…", stl_instant_paid: "{amount} 已打到你的银行账户。",
    stl_instant_failed: "{amount} 的提现失败：{reason}。银行确认你的另一个账户后会重新打款。",
    stl_instant_none: "暂时无法打款：金额结转到下一期结算。",
    stl_list: "结算单", stl_date: "结算日", stl_period: "结算期间", stl_splits: "分账",
    stl_reserve: "保证金", stl_payout: "打款", stl_bank_ref: "银行流水号", stl_statement: "对账单",
    stl_instant_tag: "即时", stl_period_until: "截至 {end}", stl_none: "还没有结算单。",
    stl_state_closed: "已结算，待打款", stl_state_paying: "打款中", stl_state_paid: "已到账",
    stl_state_failed: "打款失败", stl_state_carried: "结转下期",
    stl_state_nothing: "无需打款",
    stl_stmt_title: "{date} 的对账单", stl_other: "其他", stl_carried_in: "上期结转",
    stl_carried_out: "结转下期", stl_paid_at: "到账时间", stl_why: "原因", stl_lines: "明细笔数",
    stl_csv: "下载 CSV", stl_json: "下载 JSON", stl_close: "关闭对账单",
    stl_json_done: "已下载 {count} 条明细。", stl_payment_id: "支付单号", stl_refund_id: "退款单号",
    amount_col: "金额",
    line_payment: "收款", line_capture: "押金扣款", line_fee: "手续费", line_refund: "退款",
    line_split: "分账", line_reserve: "保证金", line_subsidy: "活动补贴",
    line_budget: "活动预算", line_carried: "上期结转", line_other: "其他",

    // Disputes (disputes.js)
    dp_title: "争议", dp_report: "反馈问题", dp_reason: "出了什么问题",
    dp_text: "请描述发生了什么", dp_photo_add: "照片（可选）", dp_photo: "照片",
    dp_send: "发送给商户", dp_none: "没有争议。", dp_withdraw: "撤回",
    dp_answer_by: "商户须在 {time} 前答复", dp_refund: "退款 {amount}",
    dp_contest: "申辩", dp_your_side: "您的说明（申辩用）",
    dp_manager_pin: "店长密码（退款用）",
    dp_reason_not_received: "未收到", dp_reason_not_as_described: "与描述不符",
    dp_reason_charged_twice: "重复扣款", dp_reason_unauthorised: "不是我付的款",
    dp_reason_other: "其他",
    dp_state_open: "等待商户答复", dp_state_contested: "商户申辩：由客服裁决",
    dp_state_escalated: "客服处理中", dp_state_refunded: "已退款",
    dp_state_decided_for_payer: "已裁决：退款", dp_state_decided_for_merchant: "已裁决：支持商户",
    dp_state_withdrawn: "已撤回",
    dp_actor_payer: "付款人", dp_actor_merchant: "商户", dp_actor_support: "客服", dp_actor_system: "扫码",
    dp_kind_opened: "发起", dp_kind_refunded: "已退款", dp_kind_contested: "申辩",
    dp_kind_escalated: "逾期未答复：转客服", dp_kind_decided: "已裁决",
    dp_kind_withdrawn: "已撤回",
    // words: 请求被拒绝时需要修改的字段
    invalid_payload: "这不是扫码的二维码，请重新扫描或粘贴完整的码。",
    invalid_shares: "请输入红包个数：1 到 100。",
    invalid_greeting: "祝福语太长。",
    invalid_manager_pin: "店长密码为 6 位数字。",
    invalid_category_code: "请选择经营类别。",
    invalid_legal_name: "请输入与营业执照一致的法定名称。",
    invalid_licence_number: "请输入统一社会信用代码。",
    invalid_owner_id_number: "请核对负责人证件号码：18位身份证号（最后一位是校验码，0–9或X，须与前面的数字相符）或护照号码。",
    invalid_message: "请填写商户将看到的说明：重新提交前需要改正什么。",
    invalid_holder_name: "请输入开户人姓名（不超过 70 个字符）。",
    invalid_account_number: "请输入银行账号：8 至 34 位数字。",
    invalid_bank_name: "开户银行名称不超过 70 个字符。",
    invalid_public_key: "请粘贴 base64 格式的公钥（Ed25519）。",
    invalid_q: "请用更少或更常见的字符搜索。",
    invalid_text: "描述太长，请精简。",
    invalid_reason: "请选择出了什么问题。",
    invalid_reason_shown: "请填写对方会看到的原因。",
    invalid_appeal: "请填写对方如何申诉。",
    invalid_from: "请选择开始日期。",
    invalid_days: "请选择显示的天数。",
    invalid_currency: "这里只能使用人民币（CNY）。",
    invalid_body: "页面发送的内容服务器无法读取，请刷新页面后重试。",
    // Bills (bills.js)
    bills_month: "月份", bills_kind: "类型", bills_kind_all: "全部", bills_kind_payment: "付款",
    bills_kind_refund: "退款", bills_kind_transfer: "转账", bills_kind_red_packet: "红包",
    bills_kind_top_up: "充值", bills_kind_withdrawal: "提现", bills_kind_hold: "押金",
    bill_payment: "付款", bill_refund: "退款", bill_capture: "押金扣款", bill_hold: "押金冻结",
    bill_release: "押金解冻", bill_transfer_out: "转出", bill_transfer_in: "转入",
    bill_transfer_returned: "转账退回（未领取）", bill_red_packet_sent: "发红包",
    bill_red_packet_claimed: "领红包", bill_red_packet_returned: "红包退回",
    bill_top_up: "充值", bill_withdrawal: "提现到银行卡",
    bill_state_done: "已完成", bill_state_pending: "银行处理中", bill_state_waiting: "待领取",
    bill_state_returned: "已退回", bill_state_failed: "失败，资金仍在钱包",
    bill_state_held: "冻结中", bill_state_captured: "已扣款", bill_state_released: "已解冻",
    bill_state_expired: "已过期", bill_state_refunded: "已退款", bill_state_partly_refunded: "部分退款",
    bill_state_open: "未领完", bill_state_emptied: "已领完",
    bill_refunded: "已退款 {amount}", bill_discount: "优惠 {amount}", bill_of_hold: "押金 {amount}",
    bill_with: "对方", bill_state: "状态", bill_greeting: "祝福语", bill_until: "有效期至",
    bill_bank_reference: "银行流水号",
    bill_arrived: "到账 {amount}。", bill_arrived_from: "到账 {amount}，来自 {name}。",
    // wallet: paying, people and extras
    was_price: "原价", pin_pad_hint: "输入第六位数字后立即提交。",
    pay_amount: "支付 {amount}", send_amount: "转账 {amount}",
    sent_waiting: "{amount} 等待对方领取",
    top_up_then_pay: "充值 {amount} 后回到这笔付款",
    top_up_back: "{amount} 已到账，请输入支付密码完成付款。",
    recipient_is: "收款人：{name}",
    recipient_waits: "还没有人在钱包中确认这个手机号或邮箱：钱会等待其主人领取，24 小时内无人领取将退回给你。",
    "err_recipient-unknown": "没有这个钱包号，请核对后再试。",
    packet_you_got: "你抢到了", packet_all_taken: "红包已被抢完。",
    packet_no_claims: "还没有人领取。",
    withdraw: "提现", withdraw_title: "提现到银行卡", bank_transfers: "银行卡转入转出",
    withdraw_sent: "正在把 {amount} 转到你的银行卡…", withdraw_done: "{amount} 已转到你的银行卡。",
    withdraw_failed: "银行拒绝了这笔提现：钱已退回钱包。",
    bank_withdrawal: "提现到银行卡", bank_top_up: "从银行卡充值",
    bt_state_pending: "处理中", bt_state_succeeded: "已完成", bt_state_failed: "已拒绝",
    // wallet follow-ups: offline, red packet PIN pad, states in words, recipient lookups
    offline_banner: "您已离线：付款码仍可使用，其他操作需等待网络恢复。",
    offline_paycode: "您已离线：此付款码仍可使用，请出示给收银员。",
    offline_wait: "您已离线：此操作需等待网络恢复，尚未发送。",
    offline_scan: "您已离线：联网后才能识别二维码，没有付款。",
    offline_enrol: "首次打开付款码需要联网，以在本机开通。请联网后再试。",
    hold_gone_held: "您已同意过这笔预授权。",
    hold_gone_voided: "商家已撤销这笔预授权，无需再同意。",
    packet_expired: "红包已过期，剩余金额已退回发送人。",
    "err_too-many-lookups": "查询收款人过于频繁，请几分钟后再试。",
    "err_too-many-sign-ins": "密码错误次数过多，请几分钟后再试。",
    // 小程序：服务被拒绝时的说明
    "err_order-not-of-service": "该服务请求支付其他商户的订单，钱包未予显示。",
    "err_mandate-not-of-service": "该服务请求你同意其他商户的自动扣款，钱包未予显示。",
    "err_invalid-grant": "该登录码已被使用或已过期，请重新登录该服务。",
    "err_access-token-invalid": "你已撤销该服务的授权，或授权已过期，请重新登录该服务。",
    "err_database-unavailable": "扫码付暂时无法连接数据库，不会重复扣款，请几秒后再试。",
    "err_not-ready": "扫码正在启动或更新，请一分钟后再试。",
    // mandates (mandates.js)
    md_title: "自动扣款", md_intro: "您允许商家在限额内定期扣款，每次扣款前一天会先通知您。",
    md_terms: "每次最多 {amount}，{frequency}，{start} 至 {end}",
    md_freq_daily: "每天最多一次", md_freq_weekly: "每周最多一次", md_freq_monthly: "每月最多一次",
    md_next: "下次：{time} 起扣 {amount}", md_next_unknown: "下次：最早 {time}，扣款前一天通知",
    md_notice: "扣款通知：{time} 起扣 {amount}", md_object: "拒绝此次扣款",
    md_debits: "扣款记录", md_no_debits: "暂无扣款。", md_debited: "已扣款", md_none: "没有自动扣款。",
    md_agree: "输入密码同意", md_decline: "拒绝", md_pause: "暂停", md_resume: "恢复", md_revoke: "解约",
    md_state_requested: "待您同意", md_state_active: "生效中", md_state_paused: "已暂停", md_state_revoked: "已解约",
    "err_mandate-not-requested": "这份自动扣款已经处理过了。",
    "err_mandate-not-agreed": "付款人尚未同意这份自动扣款。",
    "err_mandate-paused": "自动扣款已暂停，恢复前不会扣款。",
    "err_mandate-revoked": "自动扣款已解约，不会再扣款。",
    "err_mandate-not-started": "自动扣款尚未开始。",
    "err_mandate-ended": "自动扣款已到期。",
    "err_mandate-amount-above-max": "已拒绝：超过每次扣款的上限。",
    "err_mandate-too-soon": "已拒绝：扣款次数超过约定频率。",
    "err_mandate-notice-missing": "已拒绝：这次扣款没有事先通知。",
    "err_mandate-notice-too-recent": "已拒绝：通知发出不足一天。",
    "err_mandate-notice-objected": "已拒绝：您拒绝了这次扣款通知。",
    "err_mandate-notice-amount": "已拒绝：金额与通知不符。",
    "err_mandate-notice-used": "已拒绝：这条通知已经扣过款。",
    "err_mandate-notice-expired": "已拒绝：通知已过期。",
  },
};

const Saoma = (() => {
  const stored = localStorage.getItem("saoma.lang");
  const prefersZh = (navigator.languages || [navigator.language || "en"]).some((l) =>
    String(l).toLowerCase().startsWith("zh"));
  let lang = stored || (prefersZh ? "zh" : "en");

  function t(key, vars) {
    let text = (DICT[lang] && DICT[lang][key]) || DICT.en[key] || key;
    for (const [name, value] of Object.entries(vars || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function applyI18n(root) {
    (root || document).querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.dataset.i18n);
    });
    (root || document).querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.placeholder = t(el.dataset.i18nPlaceholder);
    });
    (root || document).querySelectorAll("[data-i18n-label]").forEach((el) => {
      el.setAttribute("aria-label", t(el.dataset.i18nLabel));
    });
  }

  function setLang(next) {
    lang = next;
    localStorage.setItem("saoma.lang", next);
    document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
    const button = document.getElementById("lang");
    if (button) {
      button.textContent = next === "zh" ? "English" : "中文";
      button.lang = next === "zh" ? "en" : "zh-CN";
    }
    applyI18n();
    document.dispatchEvent(new CustomEvent("saoma:lang", { detail: next }));
  }

  /** Minor units to "¥25.00" (CNY has two decimals); exact, no floating point. */
  function money(minor, currency) {
    const n = Number(minor);
    const sign = n < 0 ? "-" : "";
    const abs = Math.abs(n);
    const whole = Math.floor(abs / 100);
    const cents = String(abs % 100).padStart(2, "0");
    const symbol = (currency || "CNY") === "CNY" ? "¥" : (currency + " ");
    return `${sign}${symbol}${whole}.${cents}`;
  }

  function plain(minor) {
    return money(minor).replace("¥", "");
  }

  /** "25", "25.5", "25.50" -> 2550; anything else -> null. */
  function parseAmount(text) {
    const s = String(text || "").trim().replace(/^¥/, "");
    const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(s);
    if (!m) return null;
    return Number(m[1]) * 100 + Number((m[2] || "0").padEnd(2, "0"));
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", {
      month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    });
  }

  /** Under figures read from a standby (reports, search): how far behind they may be. */
  function showAge(node, answer) {
    const fromStandby = answer.read_from === "replica";
    node.hidden = !fromStandby;
    node.textContent = fromStandby ? t("data_age", { s: String(Math.ceil(answer.data_age_s || 0)) }) : "";
  }

  /** A refusal or a lost connection. Its message is the sentence a person reads, in the page's
   * language (even when nothing catches it); the server's own words stay in ``doc.detail``. */
  class ApiError extends Error {
    constructor(doc, status) {
      super("");
      this.name = "ApiError";
      this.doc = doc || {};
      this.status = status;
      this.slug = status === 0 ? "network"
        : String(this.doc.type || "").split("/").pop() || "http-" + status;
      this.message = human(this);
    }
  }

  async function api(method, path, body, headers) {
    const init = {
      method,
      credentials: "same-origin",
      headers: Object.assign({ Accept: "application/json" }, headers || {}),
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      // Known to be offline: fail as a lost connection does, without a request bound to fail.
      if (navigator.onLine === false) throw new TypeError("offline");
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError({}, 0); // "Failed to fetch", offline: a sentence, never "HTTP 0"
    }
    if (!response.ok) {
      let doc = {};
      try { doc = await response.json(); } catch (err) { doc = {}; }
      throw new ApiError(doc, response.status);
    }
    if (response.status === 204) return null;
    return response.json();
  }

  /**
   * POST with an Idempotency-Key per user action: the key is made when the action is first sent
   * and sent again when the same action (the same request) is retried after a lost answer, so a
   * retried click moves money once. Once the server has answered, the next action gets a new key
   * (paying the same shop the same amount twice on purpose is two payments).
   */
  const actionKeys = new Map();

  function pay(path, body, key) {
    const action = path + "\n" + JSON.stringify(body === undefined ? null : body);
    const sent = key || actionKeys.get(action) || newKey();
    actionKeys.set(action, sent);
    return api("POST", path, body, { "Idempotency-Key": sent }).then(
      (result) => { actionKeys.delete(action); return result; },
      (err) => {
        // Unknown outcome (no answer, a server error, still in progress): keep the key to retry.
        const unknown = err.slug === "network" || err.status >= 500 || err.slug === "request-in-progress";
        if (!unknown) actionKeys.delete(action);
        throw err;
      },
    );
  }

  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** Any failure as a sentence a person understands, in their language: never the server's
   * developer text, never "HTTP 0" or the browser's "Failed to fetch". */
  function human(err) {
    const known = (key) => Boolean((DICT[lang] && DICT[lang][key]) || DICT.en[key]);
    if (!err) return t("err_generic");
    // A request the browser could not send or got no answer to (fetch throws a TypeError).
    if (err.slug === "network" || err.status === 0 || (err.name === "TypeError" && /fetch|network|offline|load failed/i.test(err.message))) {
      return t("err_network");
    }
    if (err.slug === "invalid-request") {
      // The field to fix, in a sentence of its own where the pages have one.
      const field = "invalid_" + String((err.doc && err.doc.field) || "").replace(/\W/g, "_");
      return known(field) ? t(field) : t("err_invalid-request");
    }
    if (err.slug && known("err_" + err.slug)) return t("err_" + err.slug);
    if (err.status >= 500) return t("err_internal-error");
    return t("err_generic");
  }

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $$(selector, root) { return Array.from((root || document).querySelectorAll(selector)); }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Show one `section.view`, hide the others, move focus to its heading. */
  function show(id) {
    $$("section.view").forEach((v) => { v.hidden = v.id !== id; });
    const view = document.getElementById(id);
    if (!view) return;
    const heading = view.querySelector("h1, h2");
    if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: false }); }
    document.dispatchEvent(new CustomEvent("saoma:view", { detail: id }));
  }

  let toastTimer = null;
  function toast(message, kind) {
    const box = document.getElementById("toast");
    box.textContent = message;
    box.className = "toast" + (kind ? " " + kind : "");
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  /** Put a human message into an element (role=alert for errors). */
  function say(target, message, kind) {
    const node = typeof target === "string" ? $(target) : target;
    node.textContent = message;
    node.className = "notice " + (kind || "ok");
    node.hidden = !message;
    node.setAttribute("role", kind === "err" ? "alert" : "status");
  }

  /** Run an async action from a form/button: disable, show errors as sentences. */
  async function guard(button, out, action) {
    if (button) button.disabled = true;
    if (out) say(out, "", "ok");
    try {
      return await action();
    } catch (err) {
      if (out) say(out, human(err), "err"); else toast(human(err), "err");
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  /** A sign-in form: its login and password open a session of ``kind``, then ``then()`` runs. */
  function signInForm(form, kind, login, password, out, then) {
    $(form).addEventListener("submit", (ev) => {
      ev.preventDefault();
      guard(ev.submitter, out, async () => {
        await api("POST", "/web/sessions", { kind, login: $(login).value.trim(), password: $(password).value });
        await then();
      });
    });
  }

  /** Server-sent events with reconnects; closed while offline, opened again when back online;
   * falls back to nothing if unsupported. */
  function listen(path, handlers) {
    if (!window.EventSource) return () => {};
    let source = null;
    const open = () => {
      if (source) return;
      source = new EventSource(path);
      for (const [type, fn] of Object.entries(handlers)) {
        source.addEventListener(type, (msg) => {
          try { fn(JSON.parse(msg.data)); } catch (err) { /* ignore a malformed event */ }
        });
      }
      // The session ended (signed out everywhere, a new password): the page asks to sign in.
      source.addEventListener("signed-out", () => { close(); location.reload(); });
    };
    const close = () => { if (source) { source.close(); source = null; } };
    window.addEventListener("offline", close);
    window.addEventListener("online", open);
    if (navigator.onLine !== false) open();
    return () => {
      window.removeEventListener("offline", close);
      window.removeEventListener("online", open);
      close();
    };
  }

  function merchantName(m) {
    if (!m) return "";
    return lang === "zh" && m.name_zh ? m.name_zh : m.name;
  }

  function qrSvg(text) {
    qrcode.stringToBytes = qrcode.stringToBytesFuncs["UTF-8"]; // a Chinese name is UTF-8
    const qr = qrcode(0, "M");
    qr.addData(text, "Byte");
    qr.make();
    const holder = document.createElement("div");
    holder.innerHTML = qr.createSvgTag({ cellSize: 6, margin: 24, scalable: true });
    const svg = holder.firstElementChild;
    svg.classList.add("qr");
    svg.setAttribute("role", "img");
    return svg;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("lang");
    if (button) button.addEventListener("click", () => setLang(lang === "zh" ? "en" : "zh"));
    setLang(lang);
  });

  return {
    t, setLang, get lang() { return lang; }, money, plain, parseAmount, when, showAge, api, pay, newKey,
    human, $, $$, el, show, toast, say, guard, signInForm, listen, merchantName, qrSvg, applyI18n, ApiError,
    demo: document.documentElement.dataset.demo === "1",
  };
})();
