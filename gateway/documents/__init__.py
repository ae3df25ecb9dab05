"""The seven electronic documents of the decrees: typed models, canonical XML, XSD."""

from gateway.documents.registry import (
    BY_XML_ROOT,
    DOCUMENT_TYPES,
    XML_NAMESPACE,
    DocumentType,
    personal_fields,
)

__all__ = ["BY_XML_ROOT", "DOCUMENT_TYPES", "XML_NAMESPACE", "DocumentType", "personal_fields"]
