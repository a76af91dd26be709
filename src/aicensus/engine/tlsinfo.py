"""Certificate facts from a DER blob: subject, SANs, issuer, validity."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from aicensus.records import TLSInfo


def tls_info_from_der(der: bytes) -> TLSInfo | None:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return TLSInfo(subject="<unparseable certificate>")
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sans = [str(name.value) for name in ext.value]
    except (x509.ExtensionNotFound, ValueError):
        sans = []
    not_after = cert.not_valid_after_utc
    return TLSInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=sans,
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=not_after.isoformat(),
        expired=not_after < dt.datetime.now(dt.UTC),
        self_signed=cert.subject == cert.issuer,
    )
