"""The platform's configuration surface: the files a Node.js service like Rylie AI ships.

``write_app_project`` lays out an application directory with the problems the runbook's
security and configuration sections exist to find, and returns the answers:

- ``.env``: the variables such a service has, with fake values in each provider's real
  format (``sk-proj-…T3BlbkFJ…`` for OpenAI, ``SG.<22>.<43>`` for SendGrid), one weak value
  (``SESSION_SECRET=changeme``), variables nothing reads, world-readable (0644) and not
  covered by ``.gitignore``;
- ``.env.example``: the documented set, which names a variable ``.env`` lacks;
- ``package.json`` and a consistent ``package-lock.json`` (lockfileVersion 3) whose tree
  holds packages with published advisories at vulnerable versions (lodash 4.17.20,
  minimist 1.2.5, axios 0.21.1, express 4.17.1 with qs 6.7.0, jsonwebtoken 8.5.1);
- ``src/server.js``: the entry point, reading its configuration from ``process.env`` in the
  usual three styles, with one secret hardcoded as a fallback.

The dependency tree is the one npm resolved for this ``package.json`` (real versions and
integrity hashes); only the secret values depend on ``seed``. Nothing is installed.
"""

from __future__ import annotations

import json
import os
import random
import string
from pathlib import Path
from typing import Any

__all__ = ["PACKAGE_NAME", "VULNERABLE", "write_app_project"]

PACKAGE_NAME = "rylie-ai"
PACKAGE_VERSION = "2.3.1"
_REGISTRY = "https://registry.npmjs.org"

#: Direct and transitive packages locked at versions with published advisories (a floor,
#: not an exhaustive audit: other old packages in the tree have advisories too).
VULNERABLE: dict[str, str] = {
    "lodash": "4.17.20",
    "minimist": "1.2.5",
    "axios": "0.21.1",
    "express": "4.17.1",
    "jsonwebtoken": "8.5.1",
    "qs": "6.7.0",
    "path-to-regexp": "0.1.7",
    "follow-redirects": "1.14.8",
}

_DEPENDENCIES = {
    "@sendgrid/mail": "^7.4.0",
    "axios": "^0.21.1",
    "dotenv": "^10.0.0",
    "express": "^4.17.1",
    "jsonwebtoken": "^8.5.1",
    "lodash": "^4.17.20",
    "minimist": "^1.2.5",
    "node-cache": "^5.1.2",
    "openai": "^3.1.0",
    "pg": "^8.7.1",
    "redis": "^3.1.2",
}
_DEV_DEPENDENCIES = {"prettier": "^2.3.2", "typescript": "^4.4.4"}

# The locked tree, one package per block: "<path under node_modules> <version> <license>
# [dev]", then its integrity, then its dependencies ("name range", comma-separated; a
# "peer" or optional "peer?" prefix marks peer dependencies). Produced by
# `npm install --package-lock-only` for the package.json above.
_LOCK_TREE = """\
@sendgrid/client 7.7.0 MIT
  sha512-SxH+y8jeAQSnDavrTD0uGDXYIIkFylCo+eDofVmZLQ0f862nnqbC3Vd1ej6b7Le7lboyzQF6F7Fodv02rYspuA==
  @sendgrid/helpers ^7.7.0, axios ^0.26.0
@sendgrid/client/node_modules/axios 0.26.1 MIT
  sha512-fPwcX4EvnSHuInCMItEhAGnaSEXRBjtzh9fOtsE6E1G6p7vl7edEeZe11QHf18+6+9gR5PbKV/sGKNaD8YaMeA==
  follow-redirects ^1.14.8
@sendgrid/helpers 7.7.0 MIT
  sha512-3AsAxfN3GDBcXoZ/y1mzAAbKzTtUZ5+ZrHOmWQ279AuaFXUNCh9bPnRpN504bgveTqoW+11IzPg3I0WVgDINpw==
  deepmerge ^4.2.2
@sendgrid/mail 7.4.0 MIT
  sha512-SAARsfbl50OEJ99LYGKfgrYiV5O6+23aeGJuEBTHHSwRZ6KhD3n1BjPeIejbqgbqYLZJfNLxyU3o5xRdJPp3zg==
  @sendgrid/client ^7.4.0, @sendgrid/helpers ^7.4.0
accepts 1.3.8 MIT
  sha512-PYAthTa2m2VKxuvSD3DPC/Gy+U+sOA1LAuT8mkmRuvw+NACSaeXEQ+NHcVF7rONl6qcaxV3Uuemwawk+7+SJLw==
  mime-types ~2.1.34, negotiator 0.6.3
array-flatten 1.1.1 MIT
  sha512-PCVAQswWemu6UdxsDFFX/+gVeYqKAod3D3UVm91jHwynguOwAvYPhx8nNlM++NqRcK6CxxpUafjmhIdKiHibqg==
asynckit 0.4.0 MIT
  sha512-Oei9OH4tRh0YqU3GxhX79dM/mwVgvbZJaSNaRk+bshkj0S5cfHcgYakreBjrHwatXKbz+IoIdYLxrKim2MjW0Q==
axios 0.21.1 MIT
  sha512-dKQiRHxGD9PPRIUNIWvZhPTPpl1rf/OxTYKsqKUDjBwYylTvV7SjSHJb9ratfyzM6wCdLCOYLzs73qpg5c4iGA==
  follow-redirects ^1.10.0
body-parser 1.19.0 MIT
  sha512-dhEPs72UPbDnAQJ9ZKMNTP6ptJaionhP5cBb541nXPlW60Jepo9RV/a4fX4XWW9CuFNK22krhrj1+rgzifNCsw==
  bytes 3.1.0, content-type ~1.0.4, debug 2.6.9, depd ~1.1.2, http-errors 1.7.2,
  iconv-lite 0.4.24, on-finished ~2.3.0, qs 6.7.0, raw-body 2.4.0, type-is ~1.6.17
buffer-equal-constant-time 1.0.1 BSD-3-Clause
  sha512-zRpUiDwd/xk6ADqPMATG8vc9VPrkck7T07OIx0gnjmJAnHnTVXNQG3vfvWNuiZIkwu9KrKdA1iJKfsfTVxE6NA==
buffer-writer 2.0.0 MIT
  sha512-a7ZpuTZU1TRtnwyCNW3I5dc0wWNC3VR9S++Ewyk2HHZdrO3CQJqSpd+95Us590V6AL7JqUAH2IwZ/398PmNFgw==
bytes 3.1.0 MIT
  sha512-zauLjrfCG+xvoyaqLoV8bLVXXNGC4JqlxFCutSDWA6fJrTo2ZuvLYTqZ7aHBLZSMOopbzwv8f+wZcVzfVTI2Dg==
clone 2.1.2 MIT
  sha512-3Pe/CF1Nn94hyhIYpjtiLhdCoEoz0DqQ+988E9gmeEdQZlojxnOb74wctFyuwWQHzqyf9X7C7MG8juUpqBJT8w==
combined-stream 1.0.8 MIT
  sha512-FQN4MRfuJeHf7cBbBMJFXhKSDq+2kAArBlmRBvcvFE5BB1HZKXtSFASDhdlz9zOYwxh8lDdnvmMOe/+5cdoEdg==
  delayed-stream ~1.0.0
content-disposition 0.5.3 MIT
  sha512-ExO0774ikEObIAEV9kDo50o+79VCUdEB6n6lzKgGwupcVeRlhrj3qGAfwq8G6uBJjkqLrhT0qEYFcWng8z1z0g==
  safe-buffer 5.1.2
content-type 1.0.5 MIT
  sha512-nTjqfcBFEipKdXCv4YDQWCfmcLZKm81ldF0pAopTvyrFGVbcR6P/VAAd5G7N+0tTr8QqiU0tFadD6FK4NtJwOA==
cookie 0.4.0 MIT
  sha512-+Hp8fLp57wnUSt0tY0tHEXh4voZRDnoIrZPqlo3DPiI4y9lwg/jqx+1Om94/W6ZaPDOUbnjOt/99w66zk+l1Xg==
cookie-signature 1.0.6 MIT
  sha512-QADzlaHc8icV8I7vbaJXJwod9HWYp8uCqf1xa4OfNu1T7JVxQIrUgOWtHdNDtPiywmFbiS12VjotIXLrKM3orQ==
debug 2.6.9 MIT
  sha512-bC7ElrdJaJnPbAP+1EotYvqZsb3ecl5wi6Bfi6BJTUcNowp6cvspg0jXznRTKDjm/E7AdgFBVeAPVMNcKGsHMA==
  ms 2.0.0
deepmerge 4.3.1 MIT
  sha512-3sUqbMEc77XqpdNO7FRyRog+eW3ph+GYCbj+rK+uYyRMuwsVy0rMiVtPn+QJlKFvWP/1PYpapqYn0Me2knFn+A==
delayed-stream 1.0.0 MIT
  sha512-ZySD7Nf91aLB0RxL4KGrKHBXl7Eds1DAmEdcoVawXnLD7SDhpNgtuII2aAkg7a7QS41jxPSZ17p4VdGnMHk3MQ==
denque 1.5.1 Apache-2.0
  sha512-XwE+iZ4D6ZUB7mfYRMb5wByE8L74HCn30FBN7sWnXksWc1LO1bPDl67pBR9o/kC4z/xSNAwkMYcGgqDV3BE3Hw==
depd 1.1.2 MIT
  sha512-7emPTl6Dpo6JRXOXjLRxck+FlLRX5847cLKEn00PLAgc3g2hTZZgr+e4c2v6QpSmLeFP3n5yUo7ft6avBK/5jQ==
destroy 1.0.4 MIT
  sha512-3NdhDuEXnfun/z7x9GOElY49LoqVHoGScmOKwmxhsS8N5Y+Z8KyPPDnaSzqWgYt/ji4mqwfTS34Htrk0zPIXVg==
dotenv 10.0.0 BSD-2-Clause
  sha512-rlBi9d8jpv9Sf1klPjNfFAuWDjKLwTIJJ/VxtoTwIR6hnZxcEOQCZg2oIL3MWBYw5GpUDKOEnND7LXTbIpQ03Q==
ecdsa-sig-formatter 1.0.11 Apache-2.0
  sha512-nagl3RYrbNv6kQkeJIpt6NJZy8twLB/2vtz6yN9Z4vRKHN4/QZJIEbqohALSgwKdnksuY3k5Addp5lg8sVoVcQ==
  safe-buffer ^5.0.1
ee-first 1.1.1 MIT
  sha512-WMwm9LhRUo+WUaRN+vRuETqG89IgZphVSNkdFgeb6sS/E4OrDIN7t48CAewSHXc6C8lefD8KKfr5vY61brQlow==
encodeurl 1.0.4 MIT
  sha512-ImAQpWtQZKdkUxvj9CMNzB8M4IGg0DkRTZzmOHqgVFrf71JDmUacbt+iKljfIpD2yHcxI+HR76d8bwvdvtSvGA==
escape-html 1.0.3 MIT
  sha512-NiSupZ4OeuGwr68lGIeym/ksIZMJodUGOSCZ/FSnTxcrekbvqrgdUxlJOMpijaKZVjAJrWrGs/6Jy8OMuyj9ow==
etag 1.8.1 MIT
  sha512-aIL5Fx7mawVa300al2BnEE4iNvo1qETxLrPI/o05L7z6go7fCw1J6EQmbK4FmJ2AS7kgVF/KEZWufBfdClMcPg==
express 4.17.1 MIT
  sha512-mHJ9O79RqluphRrcw2X/GTh3k9tVv8YcoyY4Kkh4WDMUYKRZUq0h1o0w2rrrxBqM7VoeUVqgb27xlEMXTnYt4g==
  accepts ~1.3.7, array-flatten 1.1.1, body-parser 1.19.0, content-disposition 0.5.3,
  content-type ~1.0.4, cookie 0.4.0, cookie-signature 1.0.6, debug 2.6.9, depd ~1.1.2,
  encodeurl ~1.0.2, escape-html ~1.0.3, etag ~1.8.1, finalhandler ~1.1.2, fresh 0.5.2,
  merge-descriptors 1.0.1, methods ~1.1.2, on-finished ~2.3.0, parseurl ~1.3.3,
  path-to-regexp 0.1.7, proxy-addr ~2.0.5, qs 6.7.0, range-parser ~1.2.1,
  safe-buffer 5.1.2, send 0.17.1, serve-static 1.14.1, setprototypeof 1.1.1,
  statuses ~1.5.0, type-is ~1.6.18, utils-merge 1.0.1, vary ~1.1.2
finalhandler 1.1.2 MIT
  sha512-aAWcW57uxVNrQZqFXjITpW3sIUQmHGG3qSb9mUah9MgMC4NeWhNOlNjXEYq3HjRAvL6arUviZGGJsBg6z0zsWA==
  debug 2.6.9, encodeurl ~1.0.2, escape-html ~1.0.3, on-finished ~2.3.0, parseurl ~1.3.3,
  statuses ~1.5.0, unpipe ~1.0.0
follow-redirects 1.14.8 MIT
  sha512-1x0S9UVJHsQprFcEC/qnNzBLcIxsjAV905f/UkQxbclCsoTWlacCNOpQa/anodLl2uaEKFhfWOvM2Qg77+15zA==
form-data 4.0.0 MIT
  sha512-ETEklSGi5t0QMZuiXoA/Q6vcnxcLQP5vdugSpuAyi6SVGi2clPPp+xgEhuMaHC+zGgn31Kd235W35f7Hykkaww==
  asynckit ^0.4.0, combined-stream ^1.0.8, mime-types ^2.1.12
forwarded 0.2.0 MIT
  sha512-buRG0fpBtRHSTCOASe6hD258tEubFoRLb4ZNA6NxMVHNw2gOcwHo9wyablzMzOA5z9xA9L1KNjk/Nt6MT9aYow==
fresh 0.5.2 MIT
  sha512-zJ2mQYM18rEFOudeV4GShTGIQ7RbzA7ozbU9I/XBpm7kqgMywgmylMwXHxZJmkVoYkna9d2pVXVXPdYTP9ej8Q==
http-errors 1.7.2 MIT
  sha512-uUQBt3H/cSIVfch6i1EuPNy/YsRSOUBXTVfZ+yR7Zjez3qjBz6i9+i4zjNaoqcoFVI4lQJ5plg63TvGfRSDCRg==
  depd ~1.1.2, inherits 2.0.3, setprototypeof 1.1.1, statuses >= 1.5.0 < 2,
  toidentifier 1.0.0
iconv-lite 0.4.24 MIT
  sha512-v3MXnZAcvnywkTUEZomIActle7RXXeedOR31wwl7VlyoXO4Qi9arvSenNQWne1TcRwhCL1HwLI21bEqdpj8/rA==
  safer-buffer >= 2.1.2 < 3
inherits 2.0.3 ISC
  sha512-x00IRNXNy63jwGkJmzPigoySHbaqpNuzKbBOmzK+g2OdZpQ9w+sxCN+VSB3ja7IAge2OP2qpfxTjeNcyjmW1uw==
ipaddr.js 1.9.1 MIT
  sha512-0KI/607xoxSToH7GjN1FfSbLoU0+btTicjsQSWQlh/hZykN8KpmMf7uYwPW3R+akZ6R/w18ZlXSHBYXiYUPO3g==
jsonwebtoken 8.5.1 MIT
  sha512-XjwVfRS6jTMsqYs0EsuJ4LGxXV14zQybNd4L2r0UvbVnSF9Af8x7p5MzbJ90Ioz/9TI41/hTCvznF/loiSzn8w==
  jws ^3.2.2, lodash.includes ^4.3.0, lodash.isboolean ^3.0.3, lodash.isinteger ^4.0.4,
  lodash.isnumber ^3.0.3, lodash.isplainobject ^4.0.6, lodash.isstring ^4.0.1,
  lodash.once ^4.0.0, ms ^2.1.1, semver ^5.6.0
jsonwebtoken/node_modules/ms 2.1.3 MIT
  sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==
jwa 1.4.2 MIT
  sha512-eeH5JO+21J78qMvTIDdBXidBd6nG2kZjg5Ohz/1fpa28Z4CcsWUzJ1ZZyFq/3z3N17aZy+ZuBoHljASbL1WfOw==
  buffer-equal-constant-time ^1.0.1, ecdsa-sig-formatter 1.0.11, safe-buffer ^5.0.1
jws 3.2.3 MIT
  sha512-byiJ0FLRdLdSVSReO/U4E7RoEyOCKnEnEPMjq3HxWtvzLsV08/i5RQKsFVNkCldrCaPr2vDNAOMsfs8T/Hze7g==
  jwa ^1.4.2, safe-buffer ^5.0.1
lodash 4.17.20 MIT
  sha512-PlhdFcillOINfeV7Ni6oF1TAEayyZBoZ8bcshTHqOYJYlrqzRK5hagpagky5o4HfCzzd1TRkXPMFq6cKk9rGmA==
lodash.includes 4.3.0 MIT
  sha512-W3Bx6mdkRTGtlJISOvVD/lbqjTlPPUDTMnlXZFnVwi9NKJ6tiAk6LVdlhZMm17VZisqhKcgzpO5Wz91PCt5b0w==
lodash.isboolean 3.0.3 MIT
  sha512-Bz5mupy2SVbPHURB98VAcw+aHh4vRV5IPNhILUCsOzRmsTmSQ17jIuqopAentWoehktxGd9e/hbIXq980/1QJg==
lodash.isinteger 4.0.4 MIT
  sha512-DBwtEWN2caHQ9/imiNeEA5ys1JoRtRfY3d7V9wkqtbycnAmTvRRmbHKDV4a0EYc678/dia0jrte4tjYwVBaZUA==
lodash.isnumber 3.0.3 MIT
  sha512-QYqzpfwO3/CWf3XP+Z+tkQsfaLL/EnUlXWVkIk5FUPc4sBdTehEqZONuyRt2P67PXAk+NXmTBcc97zw9t1FQrw==
lodash.isplainobject 4.0.6 MIT
  sha512-oSXzaWypCMHkPC3NvBEaPHf0KsA5mvPrOPgQWDsbg8n7orZ290M0BmC/jgRZ4vcJ6DTAhjrsSYgdsW/F+MFOBA==
lodash.isstring 4.0.1 MIT
  sha512-0wJxfxH1wgO3GrbuP+dTTk7op+6L41QCXbGINEmD+ny/G/eCqGzxyCsh7159S+mgDDcoarnBw6PC1PS5+wUGgw==
lodash.once 4.1.1 MIT
  sha512-Sb487aTOCr9drQVL8pIxOzVhafOjZN9UU54hiN8PU3uAiSV7lx1yYNpbNmex2PK6dSJoNTSJUUswT651yww3Mg==
media-typer 0.3.0 MIT
  sha512-dq+qelQ9akHpcOl/gUVRTxVIOkAJ1wR3QAvb4RsVjS8oVoFjDGTc679wJYmUmknUF5HwMLOgb5O+a3KxfWapPQ==
merge-descriptors 1.0.1 MIT
  sha512-cCi6g3/Zr1iqQi6ySbseM1Xvooa98N0w31jzUYrXPX2xqObmFGHJ0tQ5u74H3mVh7wLouTseZyYIq39g8cNp1w==
methods 1.1.2 MIT
  sha512-iclAHeNqNm68zFtnZ0e+1L2yUIdvzNoauKU4WBA3VvH/vPFieF7qfRlwUZU+DA9P9bPXIS90ulxoUoCH23sV2w==
mime 1.6.0 MIT
  sha512-x0Vn8spI+wuJ1O6S7gnbaQg8Pxh4NNHb7KSINmEWKiPE4RKOplvijn+NkmYmmRgP68mc70j2EbeTFRsrswaQeg==
mime-db 1.52.0 MIT
  sha512-sPU4uV7dYlvtWJxwwxHD0PuihVNiE7TyAbQ5SWxDCB9mUYvOgroQOwYQQOKPJ8CIbE+1ETVlOoK1UC2nU3gYvg==
mime-types 2.1.35 MIT
  sha512-ZDY+bPm5zTTF+YpCrAU9nK0UgICYPT0QtT1NZWFv4s++TNkcgVaT0g6+4R2uI4MjQjzysHB1zxuWL50hzaeXiw==
  mime-db 1.52.0
minimist 1.2.5 MIT
  sha512-FM9nNUYrRBAELZQT3xeZQ7fmMOBg6nWNmJKTcgsJeaLstP/UODVpGsr5OhXhhXg6f+qtJ8uiZ+PUxkDWcgIXLw==
ms 2.0.0 MIT
  sha512-Tpp60P6IUJDTuOq/5Z8cdskzJujfwqfOTkrwIwj7IRISpnkJnT6SyJ4PCPnGMoFjC9ddhal5KVIYtAt97ix05A==
negotiator 0.6.3 MIT
  sha512-+EUsqGPLsM+j/zdChZjsnX51g4XrHFOIXwfnCVPGlQk/k5giakcKsuxCObBRu6DSm9opw/O6slWbJdghQM4bBg==
node-cache 5.1.2 MIT
  sha512-t1QzWwnk4sjLWaQAS8CHgOJ+RAfmHpxFWmc36IWTiWHQfs0w5JDMBS1b1ZxQteo0vVVuWJvIUKHDkkeK7vIGCg==
  clone 2.x
on-finished 2.3.0 MIT
  sha512-ikqdkGAAyf/X/gPhXGvfgAytDZtDbr+bkNUJ0N9h5MI/dmdgCs3l6hoHrcUv41sRKew3jIwrp4qQDXiK99Utww==
  ee-first 1.1.1
openai 3.1.0 MIT
  sha512-v5kKFH5o+8ld+t0arudj833Mgm3GcgBnbyN9946bj6u7bvel4Yg6YFz2A4HLIYDzmMjIo0s6vSG9x73kOwvdCg==
  axios ^0.26.0, form-data ^4.0.0
openai/node_modules/axios 0.26.1 MIT
  sha512-fPwcX4EvnSHuInCMItEhAGnaSEXRBjtzh9fOtsE6E1G6p7vl7edEeZe11QHf18+6+9gR5PbKV/sGKNaD8YaMeA==
  follow-redirects ^1.14.8
packet-reader 1.0.0 MIT
  sha512-HAKu/fG3HpHFO0AA8WE8q2g+gBJaZ9MG7fcKk+IJPLTGAD6Psw4443l+9DGRbOIh3/aXr7Phy0TjilYivJo5XQ==
parseurl 1.3.3 MIT
  sha512-CiyeOxFT/JZyN5m0z9PfXw4SCBJ6Sygz1Dpl0wqjlhDEGGBP1GnsUVEL0p63hoG1fcj3fHynXi9NYO4nWOL+qQ==
path-to-regexp 0.1.7 MIT
  sha512-5DFkuoqlv1uYQKxy8omFBeJPQcdoE07Kv2sferDCrAq1ohOU+MSDswDIbnx3YAM60qIOnYa53wBhXW0EbMonrQ==
pg 8.7.1 MIT
  sha512-7bdYcv7V6U3KAtWjpQJJBww0UEsWuh4yQ/EjNf2HeO/NnvKjpvhEIe/A/TleP6wtmSKnUnghs5A9jUoK6iDdkA==
  buffer-writer 2.0.0, packet-reader 1.0.0, pg-connection-string ^2.5.0, pg-pool ^3.4.1,
  pg-protocol ^1.5.0, pg-types ^2.1.0, pgpass 1.x, peer? pg-native >=2.0.0
pg-connection-string 2.14.1 MIT
  sha512-qR3kGNPBLpCNtz0evbKA0Y/MRFXwSSdT+pTJvYp/bXTcReZbvX1kzF0IyTc1QnxqF7AZbOeBhNL8R5mYQZV/MA==
pg-int8 1.0.1 ISC
  sha512-WCtabS6t3c8SkpDBUlb1kjOs7l66xsGdKpIPZsg4wR+B3+u9UAum2odSsF9tnvxg80h4ZxLWMy4pRjOsFIqQpw==
pg-pool 3.14.0 MIT
  sha512-gKtPkFdQPU3DksooVLi9LsjZxrsBUZIpa+7aVx+LV5pNh0KzP4Zleud2po+ConrxbuXGBJ6Hfer6hdgpIBpBaw==
  peer pg >=8.0
pg-protocol 1.16.1 MIT
  sha512-p9VOFMiHB/ZbJATetbg+99PxssTVSQRnyuPSQ67mN1+1KBOjZaZ83ZQzltnxPhJwSsC3nwVjJ10DVJlerbFzLg==
pg-types 2.2.0 MIT
  sha512-qTAAlrEsl8s4OiEQY69wDvcMIdQN6wdz5ojQiOy6YRMuynxenON0O5oCpJI6lshc6scgAY8qvJ2On/p+CXY0GA==
  pg-int8 1.0.1, postgres-array ~2.0.0, postgres-bytea ~1.0.0, postgres-date ~1.0.4,
  postgres-interval ^1.1.0
pgpass 1.0.6 MIT
  sha512-lqIfH7bdgsxHAY/ZnUOwm+aCFKrsHBDhSFuk9O0B9uCqJAIkrKTo/+LQqLPLUS4e04+jCmQVikxE3QipH5chPw==
postgres-array 2.0.0 MIT
  sha512-VpZrUqU5A69eQyW2c5CA1jtLecCsN2U/bD6VilrFDWq5+5UIEVO7nazS3TEcHf1zuPYO/sqGvUvW62g86RXZuA==
postgres-bytea 1.0.1 MIT
  sha512-5+5HqXnsZPE65IJZSMkZtURARZelel2oXUEO8rH83VS/hxH5vv1uHquPg5wZs8yMAfdv971IU+kcPUczi7NVBQ==
postgres-date 1.0.7 MIT
  sha512-suDmjLVQg78nMK2UZ454hAG+OAW+HQPZ6n++TNDUX+L0+uUlLywnoxJKDou51Zm+zTCjrCl0Nq6J9C5hP9vK/Q==
postgres-interval 1.2.0 MIT
  sha512-9ZhXKM/rw350N1ovuWHbGxnGh/SNJ4cnxHiM0rxE4VN41wsg8P8zWn9hv/buK00RP4WvlOyr/RBDiptyxVbkZQ==
  xtend ^4.0.0
prettier 2.3.2 MIT dev
  sha512-lnJzDfJ66zkMy58OL5/NY5zp70S7Nz6KqcKkXYzn2tMVrNxvbqaBpg7H3qHaLxCJ5lNMsGuM8+ohS7cZrthdLQ==
proxy-addr 2.0.8 MIT
  sha512-5nnx0yGyVUcY6t9RnWcARWtwT9F1D8O9rt08htPvnd49W1IgZtmLkhu9WfMzQj1cFxjHIO6connUNVW5k7AVyQ==
  forwarded 0.2.0, ipaddr.js 1.9.1
qs 6.7.0 BSD-3-Clause
  sha512-VCdBRNFTX1fyE7Nb6FYoURo/SPe62QCaAyzJvUjwRaIsc+NePBEniHlvxFmmX56+HZphIGtV0XeCirBtpDrTyQ==
range-parser 1.2.1 MIT
  sha512-Hrgsx+orqoygnmhFbKaHE6c296J+HTAQXoxEF6gNupROmmGJRoyzfG3ccAveqCBrwr/2yxQ5BVd/GTl5agOwSg==
raw-body 2.4.0 MIT
  sha512-4Oz8DUIwdvoa5qMJelxipzi/iJIi40O5cGV1wNYp5hvZP8ZN0T+jiNkL0QepXs+EsQ9XJ8ipEDoiH70ySUJP3Q==
  bytes 3.1.0, http-errors 1.7.2, iconv-lite 0.4.24, unpipe 1.0.0
redis 3.1.2 MIT
  sha512-grn5KoZLr/qrRQVwoSkmzdbw6pwF+/rwODtrOr6vuBRiR/f3rjSTGupbF90Zpqm2oenix8Do6RV7pYEkGwlKkw==
  denque ^1.5.0, redis-commands ^1.7.0, redis-errors ^1.2.0, redis-parser ^3.0.0
redis-commands 1.7.0 MIT
  sha512-nJWqw3bTFy21hX/CPKHth6sfhZbdiHP6bTawSgQBlKOVRG7EZkfHbbHwQJnrE4vsQf0CMNE+3gJ4Fmm16vdVlQ==
redis-errors 1.2.0 MIT
  sha512-1qny3OExCf0UvUV/5wpYKf2YwPcOqXzkwKKSmKHiE6ZMQs5heeE/c8eXK+PNllPvmjgAbfnsbpkGZWy8cBpn9w==
redis-parser 3.0.0 MIT
  sha512-DJnGAeenTdpMEH6uAJRK/uiyEIH9WVsUmoLwzudwGJUwZPp80PDBWPHXSAGNPwNvIXAbe7MSUB1zQFugFml66A==
  redis-errors ^1.0.0
safe-buffer 5.1.2 MIT
  sha512-Gd2UZBJDkXlY7GbJxfsE8/nvKkUEU1G38c1siN6QP6a9PT9MmHB8GnpscSmMJSoF8LOIrt8ud/wPtojys4G6+g==
safer-buffer 2.1.2 MIT
  sha512-YZo3K82SD7Riyi0E1EQPojLz7kpepnSQI9IyPbHHg1XXXevb5dJI7tpyN2ADxGcQbHG7vcyRHk0cbwqcQriUtg==
semver 5.7.3 ISC
  sha512-kM18BPOqTi0+TB68703/GJRpAML5Me+IDQsR1J26YB3EFKKNEyHIVZuWDX7+WKQB3tHwDwgk24BfhdpWUbytvQ==
send 0.17.1 MIT
  sha512-BsVKsiGcQMFwT8UxypobUKyv7irCNRHk1T0G680vk88yf6LBByGcZJOTJCrTP2xVN6yI+XjPJcNuE3V4fT9sAg==
  debug 2.6.9, depd ~1.1.2, destroy ~1.0.4, encodeurl ~1.0.2, escape-html ~1.0.3,
  etag ~1.8.1, fresh 0.5.2, http-errors ~1.7.2, mime 1.6.0, ms 2.1.1, on-finished ~2.3.0,
  range-parser ~1.2.1, statuses ~1.5.0
send/node_modules/ms 2.1.1 MIT
  sha512-tgp+dl5cGk28utYktBsrFqA7HKgrhgPsg6Z/EfhWI4gl1Hwq8B/GmY/0oXZ6nF8hDVesS/FpnYaD/kOWhYQvyg==
serve-static 1.14.1 MIT
  sha512-JMrvUwE54emCYWlTI+hGrGv5I8dEwmco/00EvkzIIsR7MqrHonbD9pO2MOfFnpFntl7ecpZs+3mW+XbQZu9QCg==
  encodeurl ~1.0.2, escape-html ~1.0.3, parseurl ~1.3.3, send 0.17.1
setprototypeof 1.1.1 ISC
  sha512-JvdAWfbXeIGaZ9cILp38HntZSFSo3mWg6xGcJJsd+d4aRMOqauag1C63dJfDw7OaMYwEbHMOxEZ1lqVRYP2OAw==
statuses 1.5.0 MIT
  sha512-OpZ3zP+jT1PI7I8nemJX4AKmAX070ZkYPVWV/AaKTJl+tXCTGyVdC1a4SL8RUQYEwk/f34ZX8UTykN68FwrqAA==
toidentifier 1.0.0 MIT
  sha512-yaOH/Pk/VEhBWWTlhI+qXxDFXlejDGcQipMlyxda9nthulaxLZUNcUqFxokp0vcYnvteJln5FNQDRrxj3YcbVw==
type-is 1.6.18 MIT
  sha512-TkRKr9sUTxEH8MdfuCSP7VizJyzRNMjj2J2do2Jr3Kym598JVdEksuzPQCnlFPW4ky9Q+iA+ma9BGm06XQBy8g==
  media-typer 0.3.0, mime-types ~2.1.24
typescript 4.4.4 Apache-2.0 dev
  sha512-DqGhF5IKoBl8WNf8C1gu8q0xZSInh9j1kJJMqT3a94w1JzVaBU4EXOSMrz9yDqMT0xt3selp83fuFMQ0uzv6qA==
unpipe 1.0.0 MIT
  sha512-pjy2bYhSsufwWlKwPc+l3cN7+wuJlK6uz0YdJEOlQDbl6jo/YlPi4mb8agUkVC8BF7V8NuzeyPNqRksA3hztKQ==
utils-merge 1.0.1 MIT
  sha512-pMZTvIkT1d+TFGvDOqodOclx0QWkkgi6Tdoa8gC8ffGAAqz9pzPTZWAybbsHHoED/ztMtkv/VoYTYyShUn81hA==
vary 1.1.2 MIT
  sha512-BNGbWLfd0eUPabhkXUVm0j8uuvREyTh5ovRa/dyow/BqAbZJyC+5fU+IzQOzmAKzYqYRAISoRhdQr3eIZ/PXqg==
xtend 4.0.2 MIT
  sha512-LKYU1iAXJXUgAXn9URjiu+MWhyUXHsvfp7mcuYm9dSUKK0/CjtrUwFAxD82/mCWbtLsGjFIad0wIsod4zrTAEQ==
"""


def _alphabet_token(r: random.Random, n: int, alphabet: str) -> str:
    # Provider tokens start and end with an alphanumeric, which scanners' \b anchors need.
    alnum = string.ascii_letters + string.digits
    inner = "".join(r.choices(alphabet, k=n - 2))
    return r.choice(alnum) + inner + r.choice(alnum)


_URLSAFE = string.ascii_letters + string.digits + "-_"
_BASE62 = string.ascii_letters + string.digits


def _openai_key(r: random.Random) -> str:
    # Project keys: sk-proj-, 74 characters, "T3BlbkFJ" ("OpenAI" in base64), 74 characters.
    return f"sk-proj-{_alphabet_token(r, 74, _URLSAFE)}T3BlbkFJ{_alphabet_token(r, 74, _URLSAFE)}"


def _sendgrid_key(r: random.Random) -> str:
    return f"SG.{_alphabet_token(r, 22, _URLSAFE)}.{_alphabet_token(r, 43, _URLSAFE)}"


def _env(r: random.Random) -> list[tuple[str, str] | str]:
    """The .env lines: (key, value) pairs, or comment/blank lines as plain strings."""
    db_password = _alphabet_token(r, 24, _BASE62)
    redis_password = _alphabet_token(r, 32, _BASE62)
    return [
        "# Rylie AI: production environment",
        ("NODE_ENV", "production"),
        ("PORT", "3000"),
        ("LOG_LEVEL", "info"),
        ("LOG_DIR", "/var/log/rylie"),
        "",
        "# Data stores",
        ("DATABASE_URL", f"postgresql://rylie:{db_password}@127.0.0.1:5432/rylie"),
        ("DATABASE_POOL_SIZE", "10"),
        ("REDIS_URL", f"redis://:{redis_password}@127.0.0.1:6379/0"),
        ("CACHE_TTL_SECONDS", "300"),
        "",
        "# Auth",
        ("SESSION_SECRET", "changeme"),
        ("JWT_SECRET", f"{r.getrandbits(256):064x}"),
        ("JWT_EXPIRES_IN", "7d"),
        ("ADMIN_API_KEY", _alphabet_token(r, 40, _BASE62)),
        ("CORS_ORIGIN", "https://app.rylie.example"),
        "",
        "# Providers",
        ("OPENAI_API_KEY", _openai_key(r)),
        ("OPENAI_MODEL", "gpt-4o-mini"),
        ("SENDGRID_API_KEY", _sendgrid_key(r)),
        ("SENDGRID_FROM_EMAIL", "noreply@rylie.example"),
        "",
        "# Analytics (removed in 2.0)",
        ("MIXPANEL_TOKEN", f"{r.getrandbits(128):032x}"),
        ("FEATURE_NEW_ONBOARDING", "true"),
    ]


SECRET_KEYS = (
    "DATABASE_URL",
    "REDIS_URL",
    "SESSION_SECRET",
    "JWT_SECRET",
    "ADMIN_API_KEY",
    "OPENAI_API_KEY",
    "SENDGRID_API_KEY",
    "MIXPANEL_TOKEN",
)
WEAK_KEYS = ("SESSION_SECRET",)
UNUSED_KEYS = ("MIXPANEL_TOKEN", "FEATURE_NEW_ONBOARDING")
#: Read by the code and listed in .env.example, but set nowhere.
MISSING_KEYS = ("SENTRY_DSN",)
#: Every variable src/server.js reads (``process.env.X``, ``process.env['X']``, destructuring).
REFERENCED_KEYS = (
    "NODE_ENV",
    "PORT",
    "LOG_LEVEL",
    "LOG_DIR",
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "REDIS_URL",
    "CACHE_TTL_SECONDS",
    "SESSION_SECRET",
    "JWT_SECRET",
    "JWT_EXPIRES_IN",
    "ADMIN_API_KEY",
    "CORS_ORIGIN",
    "OPENAI_API_KEY",
    "OPENAI_MODEL",
    "SENDGRID_API_KEY",
    "SENDGRID_FROM_EMAIL",
    "SENTRY_DSN",
)

_SERVER_JS = """\
'use strict';
// Rylie AI: HTTP entry point.
require('dotenv').config();

const crypto = require('crypto');
const path = require('path');
const express = require('express');
const jwt = require('jsonwebtoken');
const NodeCache = require('node-cache');
const { Pool } = require('pg');
const redis = require('redis');
const sgMail = require('@sendgrid/mail');
const { Configuration, OpenAIApi } = require('openai');

const { OPENAI_API_KEY, OPENAI_MODEL = 'gpt-4o-mini', SENTRY_DSN } = process.env;
const PORT = Number(process.env.PORT || 3000);
const isProduction = process.env.NODE_ENV === 'production';

// Request ids look like this; the prefix below is only used to validate keys' shape.
const EXAMPLE_REQUEST_ID = '9b2f4c1e-7d3a-4f6b-8c2d-1e5a7b9c0d4f';
const OPENAI_KEY_PREFIX = 'sk-';

const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env['DATABASE_POOL_SIZE'] || 10),
});
const redisClient = redis.createClient({ url: process.env.REDIS_URL });
const cache = new NodeCache({ stdTTL: Number(process.env.CACHE_TTL_SECONDS || 300) });
const openai = new OpenAIApi(new Configuration({ apiKey: OPENAI_API_KEY }));

// TODO: remove the fallback once every environment sets SENDGRID_API_KEY.
sgMail.setApiKey(process.env.SENDGRID_API_KEY || '{hardcoded}');
const mailFrom = process.env.SENDGRID_FROM_EMAIL;

const app = express();
app.use(express.json());
app.use((req, res, next) => {
  res.set('Access-Control-Allow-Origin', process.env.CORS_ORIGIN);
  next();
});

function signSession(sessionId) {
  return crypto.createHmac('sha256', process.env.SESSION_SECRET).update(sessionId).digest('hex');
}

function requireAdmin(req, res, next) {
  const token = (req.get('authorization') || '').replace(/^Bearer /, '');
  if (token !== process.env.ADMIN_API_KEY) return res.status(401).json({ error: 'unauthorized' });
  return next();
}

function signToken(user) {
  return jwt.sign({ sub: user.id }, process.env.JWT_SECRET, {
    expiresIn: process.env.JWT_EXPIRES_IN,
  });
}

app.get('/api/health', async (req, res) => {
  await pool.query('SELECT 1');
  res.json({ status: 'ok', version: require('../package.json').version });
});
app.get('/api/health/cache', (req, res) => res.json(cache.getStats()));
app.post('/api/cache/clear', requireAdmin, (req, res) => {
  const cleared = cache.keys().length;
  cache.flushAll();
  res.json({ cleared });
});

const logFile = path.join(process.env.LOG_DIR || 'logs', 'app.log');

module.exports = { app, signToken, signSession, mailFrom, redisClient, openai, logFile };
module.exports.config = { isProduction, SENTRY_DSN };

if (require.main === module) {
  app.listen(PORT, () => console.log(`listening on ${PORT} (${process.env.LOG_LEVEL})`));
}
"""

_GITIGNORE = "node_modules/\nlogs/\n*.log\ncoverage/\n.DS_Store\n"


def write_app_project(
    app_dir: Path, *, seed: int = 42, secrets: dict[str, str] | None = None
) -> dict[str, Any]:
    """Write the platform's project files into ``app_dir`` and return what is in them.

    ``secrets`` overrides or adds ``.env`` values (say the sandbox's real ``DATABASE_URL``
    and the admin token the platform service accepts). Returned: the file paths, the final
    ``env``, which keys are ``secret_keys``/``weak_keys``/``unused_keys``/``missing_keys``,
    ``referenced_keys`` (what the code reads), ``hardcoded_secrets`` (path, line, kind) and
    the ``vulnerable`` packages in the lock.
    """
    app_dir = Path(app_dir)
    (app_dir / "src").mkdir(parents=True, exist_ok=True)
    r = random.Random(f"rota-surface:{seed}")
    lines = _env(r)
    overrides = dict(secrets or {})
    env: dict[str, str] = {}
    out: list[str] = []
    for item in lines:
        if isinstance(item, str):
            out.append(item)
            continue
        key, value = item
        env[key] = overrides.pop(key, value)
        out.append(f"{key}={env[key]}")
    for key, value in overrides.items():
        env[key] = value
        out.append(f"{key}={value}")
    env_file = app_dir / ".env"
    env_file.write_text("\n".join(out) + "\n", encoding="utf-8")
    # What a default umask gives: readable by every local user. The env audit should say so.
    os.chmod(env_file, 0o644)

    example_keys = [k for k in env if k not in UNUSED_KEYS and k not in overrides]
    example_keys.insert(example_keys.index("OPENAI_MODEL") + 1, "SENTRY_DSN")
    example = app_dir / ".env.example"
    example.write_text(
        "# Copy to .env and fill in. Never commit real values.\n"
        + "".join(f"{k}={_placeholder(k)}\n" for k in example_keys),
        encoding="utf-8",
    )

    old_sendgrid = _sendgrid_key(r)
    server_js = app_dir / "src" / "server.js"
    source = _SERVER_JS.replace("{hardcoded}", old_sendgrid)
    server_js.write_text(source, encoding="utf-8")
    line_no = next(i for i, s in enumerate(source.splitlines(), 1) if old_sendgrid in s)

    package_json = app_dir / "package.json"
    package_json.write_text(json.dumps(_package_json(), indent=2) + "\n", encoding="utf-8")
    lock = _package_lock()
    package_lock = app_dir / "package-lock.json"
    package_lock.write_text(json.dumps(lock, indent=2) + "\n", encoding="utf-8")
    gitignore = app_dir / ".gitignore"
    gitignore.write_text(_GITIGNORE, encoding="utf-8")

    return {
        "app_dir": app_dir,
        "env_file": env_file,
        "env_example": example,
        "package_json": package_json,
        "package_lock": package_lock,
        "server_js": server_js,
        "gitignore": gitignore,
        "env": env,
        "secret_keys": [k for k in env if k in SECRET_KEYS or _looks_secret(k)],
        "weak_keys": [k for k in WEAK_KEYS if env.get(k) == "changeme"],
        "unused_keys": list(UNUSED_KEYS),
        "missing_keys": list(MISSING_KEYS),
        "referenced_keys": list(REFERENCED_KEYS),
        "hardcoded_secrets": [
            {"path": server_js, "line": line_no, "kind": "sendgrid-api-key", "value": old_sendgrid}
        ],
        "env_mode": 0o644,
        "gitignore_covers_env": False,
        "vulnerable": dict(VULNERABLE),
        "locked_packages": len(lock["packages"]) - 1,
    }


def _looks_secret(key: str) -> bool:
    return any(w in key for w in ("SECRET", "TOKEN", "KEY", "PASSWORD"))


def _placeholder(key: str) -> str:
    return {
        "NODE_ENV": "development",
        "PORT": "3000",
        "LOG_LEVEL": "info",
        "OPENAI_API_KEY": "sk-proj-...",
        "SENDGRID_API_KEY": "SG.xxxxx",
        "DATABASE_URL": "postgresql://user:password@localhost:5432/rylie",
        "REDIS_URL": "redis://localhost:6379/0",
    }.get(key, "")


def _package_json() -> dict[str, Any]:
    return {
        "name": PACKAGE_NAME,
        "version": PACKAGE_VERSION,
        "private": True,
        "description": "Rylie AI chat service",
        "main": "src/server.js",
        "scripts": {
            "start": "node src/server.js",
            "dev": "node --watch src/server.js",
            "test": "node --test",
            "apply-indexes": "node scripts/apply-indexes.js",
            "format": "prettier --write src",
        },
        "engines": {"node": ">=18"},
        "dependencies": dict(_DEPENDENCIES),
        "devDependencies": dict(_DEV_DEPENDENCIES),
    }


def _package_lock() -> dict[str, Any]:
    packages: dict[str, Any] = {
        "": {
            "name": PACKAGE_NAME,
            "version": PACKAGE_VERSION,
            "dependencies": dict(_DEPENDENCIES),
            "devDependencies": dict(_DEV_DEPENDENCIES),
            "engines": {"node": ">=18"},
        }
    }
    for block in _lock_blocks():
        header, integrity, *dep_lines = block
        path, version, license_, *flags = header.split()
        name = path.rsplit("node_modules/", 1)[-1]
        entry: dict[str, Any] = {
            "version": version,
            "resolved": f"{_REGISTRY}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz",
            "integrity": integrity,
        }
        if "dev" in flags:
            entry["dev"] = True
        entry["license"] = license_
        deps: dict[str, str] = {}
        peers: dict[str, str] = {}
        optional_peers: list[str] = []
        for item in " ".join(dep_lines).split(","):
            if not item.strip():
                continue
            words = item.strip().split(" ", 1)
            if words[0] in ("peer", "peer?"):
                dep, _, spec = words[1].partition(" ")
                peers[dep] = spec
                if words[0] == "peer?":
                    optional_peers.append(dep)
            else:
                deps[words[0]] = words[1]
        if deps:
            entry["dependencies"] = deps
        if peers:
            entry["peerDependencies"] = peers
        if optional_peers:
            entry["peerDependenciesMeta"] = {p: {"optional": True} for p in optional_peers}
        packages[f"node_modules/{path}"] = entry
    return {
        "name": PACKAGE_NAME,
        "version": PACKAGE_VERSION,
        "lockfileVersion": 3,
        "requires": True,
        "packages": packages,
    }


def _lock_blocks() -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in _LOCK_TREE.splitlines():
        if not line.startswith(" "):
            blocks.append([line])
        else:
            blocks[-1].append(line.strip())
    return blocks
