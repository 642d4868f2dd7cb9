"""The interfaces the core needs from the world. Each runtime supplies adapters for them.

| port         | Worker adapter            | server adapters                                   |
|--------------|---------------------------|---------------------------------------------------|
| Database     | D1Database                | SqliteDatabase, PostgresDatabase                  |
| KVStore      | WorkersKVStore            | SqliteKVStore, MemoryKVStore, RedisKVStore        |
| ObjectStore  | R2ObjectStore             | FilesystemObjectStore, S3ObjectStore              |
| HttpClient   | FetchHttpClient           | HttpxHttpClient                                   |
| Cipher       | WebCryptoCipher           | CryptographyCipher                                |
| Kdf          | WebCryptoKdf              | HashlibKdf                                        |
| Clock        | SystemClock               | SystemClock                                       |
| GitReader    | (none: no processes)      | GitCliReader                                      |
"""

from .clock import Clock, SystemClock
from .database import Database, Row
from .git import GitReader, GitRef
from .http_client import HttpClient, HttpResponse
from .kdf import Kdf
from .kv import KVStore
from .objects import ObjectInfo, ObjectStore, StoredObject

__all__ = [
    "Clock",
    "Database",
    "GitReader",
    "GitRef",
    "HttpClient",
    "HttpResponse",
    "KVStore",
    "Kdf",
    "ObjectInfo",
    "ObjectStore",
    "Row",
    "StoredObject",
    "SystemClock",
]
