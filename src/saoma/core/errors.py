"""Every refusal Saoma gives: one rooted hierarchy, one class per slug (and per cause).

A class's ``slug`` is the stable ``type`` a client branches on, its ``title`` the problem's
title, its docstring the one line saying when it is raised. Instances carry the human
``detail``, the ``field`` at fault and any extra members of the problem document. The HTTP
status is not here: :mod:`saoma.api.problems` maps classes to statuses in one table.

Where one slug covers several causes (``conflict``, say), each cause is a subclass that keeps
the slug the API returns today and names its own precise slug in ``cause``, ready for the day
the API switches to it.

Longer than usual: the catalogue reads best as one list, one short class per entry.
"""

from __future__ import annotations

from typing import Any, ClassVar

TYPE_BASE = "https://saoma.dev/problems/"

# The class that first declared each slug (a cause under a shared slug is its subclass).
by_slug: dict[str, type[SaomaError]] = {}
# Every listed class, in the order declared: the catalogue that is exported.
catalogue: list[type[SaomaError]] = []


class Refusal(Exception):
    """Raised by a ledger hook to refuse its request (an order closed meanwhile, a limit
    reached): the request is rolled back, the rest of its batch goes through."""


class SaomaError(Refusal):
    """Any refusal Saoma gives."""

    slug: ClassVar[str] = ""
    title: ClassVar[str] = ""
    cause: ClassVar[str] = ""
    listed: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if "slug" in own and "title" not in own:
            cls.title = cls.slug.replace("-", " ").capitalize()
        if "cause" not in own:
            cls.cause = cls.slug
        if cls.slug:
            by_slug.setdefault(cls.slug, cls)
        if cls.listed:
            catalogue.append(cls)

    def __init__(self, detail: str = "", *, field: str | None = None, **extra: Any) -> None:
        detail = detail or self.doc()
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    @classmethod
    def doc(cls) -> str:
        """The class's one-line doc: when this error is raised."""
        return " ".join((cls.__doc__ or "").split())

    @property
    def type(self) -> str:
        return TYPE_BASE + self.slug


class PassedOn(SaomaError):
    """A refusal whose HTTP status is not the catalogue's: it came with its own."""

    listed = False

    def __init__(self, detail: str, *, http_status: int, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.http_status = http_status


# The request itself ------------------------------------------------------------------------


class InvalidRequest(SaomaError):
    """A value in the request is missing or malformed; ``field`` names it."""

    slug = "invalid-request"


class BodyTooLarge(SaomaError):
    """The request body is larger than the server reads."""

    slug = "body-too-large"


class Overloaded(SaomaError):
    """The server has as much work under way as it takes at once: try again after the seconds
    in ``Retry-After``; nothing of this request was done."""

    slug = "overloaded"
    title = "Server busy"


class MethodNotAllowed(SaomaError):
    """The path exists but not with this HTTP method."""

    slug = "method-not-allowed"


class HttpError(PassedOn):
    """The web framework refused the request for a reason with no entry of its own."""

    slug = "http-error"
    listed = True


class NotFound(SaomaError):
    """No such object, or it belongs to someone else (the same answer for both)."""

    slug = "not-found"

    @classmethod
    def named(cls, what: str, ident: str) -> NotFound:
        """``no <what> '<ident>'``: the same whether it does not exist or is someone else's."""
        return cls(f"no {what} {ident!r}")


class DemoOnly(NotFound):
    """The endpoint exists only when the server runs in demo mode."""

    cause = "demo-only"


class InternalError(SaomaError):
    """Something unexpected failed on the server; nothing was changed."""

    slug = "internal-error"


class IdempotencyKeyRequired(SaomaError):
    """A request that moves or reserves money came without an Idempotency-Key header."""

    slug = "idempotency-key-required"


class IdempotencyKeyReused(SaomaError):
    """The Idempotency-Key was already used with a different request."""

    slug = "idempotency-key-reused"


class RequestInProgress(SaomaError):
    """A request with the same Idempotency-Key is still being handled."""

    slug = "request-in-progress"


# Who is calling ----------------------------------------------------------------------------


class Unauthenticated(SaomaError):
    """The request has no session, or its session has expired."""

    slug = "unauthenticated"


class OperatorForbidden(SaomaError):
    """The operator's role may not do this."""

    slug = "operator-forbidden"


class Frozen(SaomaError):
    """An operator froze the wallet or the merchant: no money leaves it (refunds still go)."""

    slug = "frozen"


class WalletFrozen(Frozen):
    """The wallet is frozen: it cannot pay, transfer or withdraw; it still receives refunds."""

    cause = "wallet-frozen"


class MerchantFrozen(Frozen):
    """The merchant is frozen: it cannot take payments or be paid out; it can still refund."""

    cause = "merchant-frozen"


class MerchantNotVerified(SaomaError):
    """The merchant's business details are not approved: it has reached what it may take
    before they are (or they were rejected)."""

    slug = "merchant-not-verified"


class KycNotPending(SaomaError):
    """The merchant's business details are not waiting for a decision."""

    slug = "kyc-not-pending"


class KycAlreadySubmitted(SaomaError):
    """The merchant's business details are waiting for a decision or were approved."""

    slug = "kyc-already-submitted"


class SignInFailed(SaomaError):
    """The login or the password is wrong."""

    slug = "sign-in-failed"


class TooManySignIns(SaomaError):
    """Too many wrong passwords for this login, or from this address, in the last minutes:
    ``retry_after_s`` says when to try again."""

    slug = "too-many-sign-ins"


class PasswordWrong(SaomaError):
    """A change that needs the account's password was sent a wrong one."""

    slug = "password-wrong"


class LoginTaken(SaomaError):
    """Another account already uses this login."""

    slug = "login-taken"


class SignatureMissing(SaomaError):
    """A merchant's request came without the signature headers."""

    slug = "signature-missing"


class SignatureInvalid(SaomaError):
    """The request's signature does not match the request."""

    slug = "signature-invalid"


class SignatureHeaderMalformed(SignatureInvalid):
    """A signature header is not in its format; ``field`` names the header."""

    cause = "signature-header-malformed"


class TimestampOutOfRange(SaomaError):
    """The signed timestamp is too far from the server's clock."""

    slug = "timestamp-out-of-range"


class KeyUnknown(SaomaError):
    """The signing key id is unknown, revoked or expired."""

    slug = "key-unknown"


class NonceReused(SaomaError):
    """The signed request's nonce was already used: a replay."""

    slug = "nonce-reused"


# PINs --------------------------------------------------------------------------------------


class PinRequired(SaomaError):
    """The action needs the payer's PIN and none was given."""

    slug = "pin-required"


class OverNoPinLimit(PinRequired):
    """A payment without a PIN is above the wallet's no-PIN allowance."""

    cause = "over-no-pin-limit"

    def __init__(self) -> None:
        super().__init__("above your no-PIN limit: confirm with your PIN")


class PinWrong(SaomaError):
    """The payment PIN is wrong; ``tries_left`` says how many tries remain."""

    slug = "pin-wrong"


class PinLocked(SaomaError):
    """Too many wrong payment PINs: the wallet's PIN is locked until ``locked_until_us``."""

    slug = "pin-locked"


class PinNotSet(SaomaError):
    """The wallet has no payment PIN yet."""

    slug = "pin-not-set"


class PinBusy(SaomaError):
    """Too many PIN checks on this wallet are under way at once."""

    slug = "pin-busy"


class ManagerPinWrong(SaomaError):
    """The shop manager's PIN is wrong; ``tries_left`` says how many tries remain."""

    slug = "manager-pin-wrong"


class ManagerPinLocked(SaomaError):
    """Too many wrong manager PINs: refunds are locked until ``locked_until_us``."""

    slug = "manager-pin-locked"


class ManagerPinNotSet(SaomaError):
    """The merchant has not set a manager PIN, which this action needs."""

    slug = "manager-pin-not-set"


# Phones and e-mails ------------------------------------------------------------------------


class IdentifierTaken(SaomaError):
    """Another wallet has verified this phone number or e-mail address."""

    slug = "identifier-taken"


class IdentifierVerified(SaomaError):
    """This phone number or e-mail address is already verified for this wallet."""

    slug = "identifier-verified"


class IdentifierUnknown(SaomaError):
    """The wallet has not claimed this phone number or e-mail address."""

    slug = "identifier-unknown"


class VerificationCodeWrong(SaomaError):
    """The verification code is wrong; ``tries_left`` says how many tries remain."""

    slug = "verification-code-wrong"


class VerificationCodeExpired(SaomaError):
    """The verification code has expired."""

    slug = "verification-code-expired"


class VerificationCodeLocked(SaomaError):
    """Too many wrong tries of this verification code: a new one is needed."""

    slug = "verification-code-locked"


class VerificationCodeTooSoon(SaomaError):
    """A verification code was sent moments ago; ``retry_after_s`` says when to ask again."""

    slug = "verification-code-too-soon"


class VerificationCodesExhausted(SaomaError):
    """Today's allowance of verification codes (per wallet or per address) is used up."""

    slug = "verification-codes-exhausted"


# No code was sent now, but one may arrive later: sign-up and the demo go on without it.
CODE_HELD_BACK = (VerificationCodeTooSoon, VerificationCodesExhausted)


# Money -------------------------------------------------------------------------------------


class InsufficientFunds(SaomaError):
    """The account that would pay does not hold enough money."""

    slug = "insufficient-funds"


class CurrencyMismatch(SaomaError):
    """The amount, the wallet, the order or the merchant are in different currencies."""

    slug = "currency-mismatch"


class AmountTooLarge(SaomaError):
    """The amount is above the limit for this kind of movement."""

    slug = "amount-too-large"


class LedgerRefused(SaomaError):
    """The ledger refused the transfer for a reason with no entry of its own."""

    slug = "ledger-refused"


class DailyLimit(SaomaError):
    """Sending this would go past the wallet's daily limit; ``remaining`` is what is left."""

    slug = "daily-limit"


class SelfTransfer(SaomaError):
    """The payer and the receiver are the same wallet."""

    slug = "self-transfer"


# Settlement ----------------------------------------------------------------------------------


class BankAccountMissing(SaomaError):
    """The merchant has no verified bank account to be paid to."""

    slug = "bank-account-missing"


class NothingToSettle(SaomaError):
    """There is nothing the merchant can be paid now (no settled money, or it is all needed)."""

    slug = "nothing-to-settle"


# Orders and refunds ------------------------------------------------------------------------


class OrderNumberReused(SaomaError):
    """The merchant's order number was already used for a different order."""

    slug = "order-number-reused"


class OrderAlreadyPaid(SaomaError):
    """The order was paid already (by this payer or another)."""

    slug = "order-already-paid"


class OrderPaid(SaomaError):
    """A paid order cannot be closed: it is refunded instead."""

    slug = "order-paid"


class OrderClosed(SaomaError):
    """The merchant closed the order."""

    slug = "order-closed"


class OrderExpired(SaomaError):
    """The order's code has expired."""

    slug = "order-expired"


class OrderNotPayable(SaomaError):
    """The order was closed or expired while it was being paid."""

    slug = "order-not-payable"


class RefundNumberReused(SaomaError):
    """The merchant's refund number was already used for a different refund."""

    slug = "refund-number-reused"


class RefundExceedsPayment(SaomaError):
    """The refund is more than is left of the payment; ``refundable`` is what is left."""

    slug = "refund-exceeds-payment"


# Holds (pre-authorisations) ----------------------------------------------------------------


class HoldNotOpen(SaomaError):
    """The hold was already captured, voided or released."""

    slug = "hold-not-open"


class HoldExpired(SaomaError):
    """The hold expired and its money was released."""

    slug = "hold-expired"


class HoldReferenceReused(SaomaError):
    """The merchant's hold reference was already used for a different hold."""

    slug = "hold-reference-reused"


class HoldAlreadyCaptured(SaomaError):
    """The hold was already captured, for the amount in ``captured``."""

    slug = "hold-already-captured"


class CaptureExceedsHold(SaomaError):
    """The capture is more than the hold reserved."""

    slug = "capture-exceeds-hold"


# Codes -------------------------------------------------------------------------------------


class CodeUnreadable(SaomaError):
    """The scanned QR code is not a Saoma payment code."""

    slug = "code-unreadable"


class CodeMalformed(SaomaError):
    """The payment code is not 18 digits starting with 28."""

    slug = "code-malformed"


class CodeUnknown(SaomaError):
    """The payment code is not valid (never issued, revoked, or another wallet's)."""

    slug = "code-unknown"


class CodeExpired(SaomaError):
    """The payment code has expired: the payer shows a fresh one."""

    slug = "code-expired"


class CodeUsed(SaomaError):
    """The payment code was already used."""

    slug = "code-used"


class TooManyTries(SaomaError):
    """Too many invalid payment codes at this terminal or merchant in the last minute."""

    slug = "too-many-tries"


class ChargeExpired(SaomaError):
    """The till stopped waiting for the payer to confirm a payment-code charge."""

    slug = "charge-expired"


# Between people ----------------------------------------------------------------------------


class PacketEmpty(SaomaError):
    """Every share of the red packet has been taken."""

    slug = "packet-empty"


class PacketClosed(SaomaError):
    """The red packet has expired."""

    slug = "packet-closed"


# Promotions --------------------------------------------------------------------------------


class CampaignEnded(SaomaError):
    """The campaign is not running (ended, paused or out of budget)."""

    slug = "campaign-ended"


class OfferUnavailable(SaomaError):
    """The discount quoted is no longer available: the payer reviews the new price."""

    slug = "offer-unavailable"


# Conflicts: one slug today, one class (and a precise slug in ``cause``) per cause ----------


class Conflict(SaomaError):
    """A concurrent change won the race; retrying may succeed."""

    slug = "conflict"


class NotRecorded(Conflict):
    """The money movement could not be recorded (its batch kept losing a race): retry."""

    cause = "not-recorded"


class RefundRaced(Conflict):
    """Other refunds of the same payment kept committing first: retry."""

    cause = "refund-raced"


class AlreadySettled(Conflict):
    """The transfer (to an unverified receiver, or with the bank) was already settled."""

    cause = "already-settled"


class InstructionInProgress(Conflict):
    """The bank instruction this request would create is already being handled."""

    cause = "instruction-in-progress"


class CampaignChanged(Conflict):
    """The campaign changed while the request was handled: retry."""

    cause = "campaign-changed"


class TransferIdReused(Conflict):
    """The transfer was already made with the same id and other details."""

    cause = "transfer-id-reused"


# Disputes -------------------------------------------------------------------------------------


class DisputeRefused(SaomaError):
    """The dispute (or the payment) is not in a state that allows this."""

    slug = "dispute-refused"


class DisputeExists(DisputeRefused):
    """This payment already has a dispute: one per payment."""

    cause = "dispute-exists"


class PaymentNotDisputable(DisputeRefused):
    """The payment cannot be disputed: too old, or already refunded in full."""

    cause = "payment-not-disputable"


class DisputeClosed(DisputeRefused):
    """The dispute has moved on: this step is no longer open to you."""

    cause = "dispute-closed"


class AnswerTooLate(DisputeRefused):
    """The time to answer the dispute has passed: support decides now."""

    cause = "answer-too-late"


class AlreadyFrozen(Conflict):
    """The wallet or merchant is frozen already: lift that freeze first."""

    cause = "already-frozen"


class NotFrozen(Conflict):
    """The wallet or merchant is not frozen: there is nothing to lift."""

    cause = "not-frozen"


def not_found(what: str, ident: str) -> NotFound:
    """The same answer whether the object does not exist or belongs to someone else."""
    return NotFound(f"no {what} {ident!r}")


class TooManyLookups(SaomaError):
    """Too many lookups of who has a wallet in a few minutes (a wallet's recipient lookups, a
    merchant's mandate requests): wait, then try again."""

    slug = "too-many-lookups"


# Mini-programs --------------------------------------------------------------------------------


class OrderNotOfService(SaomaError):
    """A mini-program asked the wallet to pay an order (or allow a hold) that is not its own
    merchant's, or that does not exist: the wallet shows no sheet for it."""

    slug = "order-not-of-service"


class MandateNotOfService(SaomaError):
    """A mini-program asked the wallet to agree to a mandate that its own merchant did not ask
    for: the wallet shows no sheet for it."""

    slug = "mandate-not-of-service"


class InvalidGrant(SaomaError):
    """The authorization code is unknown, expired, already exchanged, revoked by the payer, or
    not one of your mini-programs' codes."""

    slug = "invalid-grant"


class AccessTokenInvalid(SaomaError):
    """The access token is unknown or expired, the payer revoked the service's access, or it is
    not one of your mini-programs' tokens."""

    slug = "access-token-invalid"


class OriginTaken(Conflict):
    """Another mini-program is served from this origin already: one origin, one service."""

    cause = "origin-taken"


class DatabaseUnavailable(SaomaError):
    """The database could not be reached, or lost the connection mid-request (a failover, say):
    try again after the seconds in ``Retry-After`` with the same Idempotency-Key. Nothing is
    answered as done unless it was committed; a retry finds it if it was."""

    slug = "database-unavailable"
    title = "Database unavailable"


class NotReady(SaomaError):
    """The server cannot serve yet: its database does not answer, or is not at the revision of
    the schema this code expects (``revision`` and ``expected`` say which)."""

    slug = "not-ready"
    title = "Not ready"


# Mandates -------------------------------------------------------------------------------------


class MandateNotRequested(SaomaError):
    """The mandate was already agreed to or revoked: there is nothing to agree to."""

    slug = "mandate-not-requested"


class MandateNotAgreed(SaomaError):
    """The payer has not agreed to the mandate yet: no notice or debit rests on it."""

    slug = "mandate-not-agreed"


class MandatePaused(SaomaError):
    """The payer paused the mandate: no debit until they resume it."""

    slug = "mandate-paused"


class MandateRevoked(SaomaError):
    """The payer revoked the mandate: nothing more is debited under it."""

    slug = "mandate-revoked"


class MandateNotStarted(SaomaError):
    """The mandate's period has not begun: no debit before its start date."""

    slug = "mandate-not-started"


class MandateEnded(SaomaError):
    """The mandate's period is over: no debit after its end date."""

    slug = "mandate-ended"


class MandateAmountAboveMax(SaomaError):
    """The amount is above the most the payer allowed per debit under this mandate."""

    slug = "mandate-amount-above-max"


class MandateTooSoon(SaomaError):
    """The mandate was debited already in this period: once a day, week or month at most."""

    slug = "mandate-too-soon"


class MandateNoticeMissing(SaomaError):
    """No pre-debit notice of this mandate has that id: a debit needs one."""

    slug = "mandate-notice-missing"


class MandateNoticeTooRecent(SaomaError):
    """The pre-debit notice is less than 24 hours old: the payer has a day to see it."""

    slug = "mandate-notice-too-recent"


class MandateNoticeObjected(SaomaError):
    """The payer objected to this pre-debit notice: its debit is cancelled."""

    slug = "mandate-notice-objected"


class MandateNoticeAmount(SaomaError):
    """The pre-debit notice announced another amount: a debit takes what was announced."""

    slug = "mandate-notice-amount"


class MandateNoticeUsed(SaomaError):
    """A debit was already made on this pre-debit notice: one debit per notice."""

    slug = "mandate-notice-used"


class MandateNoticeExpired(SaomaError):
    """The pre-debit notice is too old to debit on: send a new one."""

    slug = "mandate-notice-expired"


class MandateNumberReused(Conflict):
    """The merchant's mandate number was used already for a mandate with other details."""

    cause = "mandate-number-reused"
