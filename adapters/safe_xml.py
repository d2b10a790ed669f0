"""The XML guard every feed passes before a parser sees it (``defusedxml`` on the raw bytes).

Allowed: a plain DOCTYPE, even with an external DTD reference such as RSS 0.91's Netscape DTD
(expat never loads it), and HTML named entities such as ``&nbsp;`` that real feeds use without
declaring them. Refused with a ``SourceError``: any ENTITY declaration (entity-expansion bombs
like "billion laughs", external entities such as ``SYSTEM "file:///etc/passwd"``, parameter
entities), any external entity reference, and documents that are not well-formed XML.
"""

from __future__ import annotations

from html.entities import html5
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException, EntitiesForbidden
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from bot.errors import SourceError

HTML_ENTITIES = {name[:-1]: text for name, text in html5.items() if name.endswith(";")}
"""``nbsp`` -> U+00A0 ...: the names a feed may use without declaring them."""


def guard_xml(body: bytes) -> Element:
    """Parse ``body`` without resolving anything; its root element, or ``SourceError``."""
    parser = DefusedXMLParser(forbid_dtd=False, forbid_entities=True, forbid_external=True)
    # Undefined entities go to the parser's entity table (HTML names), never to an error.
    parser.parser.UseForeignDTD(True)
    parser.entity.update(HTML_ENTITIES)
    try:
        parser.feed(body)
        return parser.close()
    except EntitiesForbidden as exc:
        raise SourceError(
            f"refused: the document declares the XML entity {exc.name!r} "
            "(entity declarations can expand without bound or read local files)"
        ) from exc
    except DefusedXmlException as exc:
        raise SourceError(f"refused: the document refers to an external resource ({exc})") from exc
    except ParseError as exc:
        raise SourceError(f"not well-formed XML: {exc}") from exc
