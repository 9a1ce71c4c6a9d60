"""Bintray's open-source license catalogue (the spec's "Available licenses", in its order and
spelling): ``GET /licenses/oss_licenses`` and the names package create/update accept in ``licenses``."""

from __future__ import annotations

#: One entry per license of the spec's list, in the spec's order.
OSS_LICENSES: tuple[dict[str, str], ...] = (
    {
        "name": "AFL-2.1",
        "longname": "Academic Free License v2.1",
        "url": "https://spdx.org/licenses/AFL-2.1.html",
    },
    {
        "name": "AFL-3.0",
        "longname": "The Academic Free License 3.0",
        "url": "http://www.opensource.org/licenses/afl-3.0.php",
    },
    {
        "name": "AGPL-V3",
        "longname": "GNU AFFERO GENERAL PUBLIC LICENSE v3",
        "url": "http://www.opensource.org/licenses/agpl-v3.html",
    },
    {
        "name": "Apache-1.0",
        "longname": "The Apache Software License, Version 1.0",
        "url": "http://apache.org/licenses/LICENSE-1.0",
    },
    {
        "name": "Apache-1.1",
        "longname": "The Apache Software License, Version 1.1",
        "url": "http://apache.org/licenses/LICENSE-1.1",
    },
    {
        "name": "Apache-2.0",
        "longname": "The Apache Software License, Version 2.0",
        "url": "http://www.apache.org/licenses/LICENSE-2.0",
    },
    {
        "name": "APL-1.0",
        "longname": "Adaptive Public License 1.0",
        "url": "http://www.opensource.org/licenses/apl1.0.php",
    },
    {
        "name": "APSL-2.0",
        "longname": "The Apple Public Source License 2.0",
        "url": "http://www.opensource.org/licenses/apsl-2.0.php",
    },
    {
        "name": "Artistic-License-2.0",
        "longname": "Artistic License 2.0",
        "url": "http://www.opensource.org/licenses/artistic-license-2.0.php",
    },
    {
        "name": "Attribution",
        "longname": "The Attribution Assurance License",
        "url": "http://www.opensource.org/licenses/attribution.php",
    },
    {
        "name": "Bouncy-Castle",
        "longname": "Bouncy Castle License",
        "url": "http://www.bouncycastle.org/licence.html",
    },
    {
        "name": "BSD",
        "longname": "Berkeley Software Distribution (BSD)",
        "url": "http://directory.fsf.org/wiki/License:BSD_4Clause",
    },
    {
        "name": "BSD 2-Clause",
        "longname": "Berkeley Software Distribution Simplified (BSD Simplified)",
        "url": "http://opensource.org/licenses/BSD-2-Clause",
    },
    {
        "name": "BSD 3-Clause",
        "longname": "Berkeley Software Distribution New (BSD New)",
        "url": "http://opensource.org/licenses/BSD-3-Clause",
    },
    {
        "name": "BSL-1.0",
        "longname": "Boost Software License 1.0 (BSL1.0)",
        "url": "http://www.opensource.org/licenses/bsl1.0.html",
    },
    {
        "name": "CA-TOSL-1.1",
        "longname": "Computer Associates Trusted Open Source License 1.1",
        "url": "http://www.opensource.org/licenses/ca-tosl1.1.php",
    },
    {
        "name": "CC0-1.0",
        "longname": "CC0 1.0 Universal",
        "url": "http://creativecommons.org/publicdomain/zero/1.0/",
    },
    {
        "name": "CDDL-1.0",
        "longname": "Common Development and Distribution License (CDDL) 1.0",
        "url": "http://www.opensource.org/licenses/cddl1.php",
    },
    {
        "name": "Codehaus",
        "longname": "Copyright 2002 (C) The Codehaus",
        "url": "http://classworlds.codehaus.org/license.html",
    },
    {
        "name": "CPAL-1.0",
        "longname": "Common Public Attribution License Version 1.0 (CPAL)",
        "url": "http://www.opensource.org/licenses/cpal_1.0",
    },
    {
        "name": "CPL-1.0",
        "longname": "Common Public License",
        "url": "http://www.opensource.org/licenses/cpl1.0.txt",
    },
    {
        "name": "CPOL-1.02",
        "longname": "The Code Project Open License (CPOL) 1.02",
        "url": "http://www.codeproject.com/info/cpol10.aspx",
    },
    {
        "name": "CUAOFFICE-1.0",
        "longname": "CUA Office Public License",
        "url": "http://www.opensource.org/licenses/cuaoffice.php",
    },
    {
        "name": "Day",
        "longname": "Day Spec License",
        "url": "http://www.day.com/dam/day/downloads/jsr283/day-spec-license.htm",
    },
    {
        "name": "Day-Addendum",
        "longname": "Day Specification License Addendum",
        "url": "http://www.day.com/content/dam/day/downloads/jsr283/LICENSE.txt",
    },
    {
        "name": "ECL2",
        "longname": "Educational Community License, Version 2.0",
        "url": "http://www.opensource.org/licenses/ecl2.php",
    },
    {
        "name": "Eiffel-2.0",
        "longname": "Eiffel Forum License - Ver.2",
        "url": "http://www.opensource.org/licenses/ver2_eiffel.php",
    },
    {
        "name": "Entessa-1.0",
        "longname": "Entessa Public License Version 1.0",
        "url": "http://www.opensource.org/licenses/entessa.php",
    },
    {
        "name": "EPL-1.0",
        "longname": "Eclipse Public License 1.0",
        "url": "http://www.opensource.org/licenses/eclipse-1.0.php",
    },
    {
        "name": "EPL-2.0",
        "longname": "Eclipse Public License 2.0",
        "url": "https://www.eclipse.org/legal/epl-2.0/",
    },
    {
        "name": "EUDATAGRID",
        "longname": "EU DataGrid Software License",
        "url": "http://www.opensource.org/licenses/eudatagrid.php",
    },
    {
        "name": "EUPL-1.1",
        "longname": "European Union Public Licence - EUPL v.1.1",
        "url": "http://ec.europa.eu/idabc/eupl",
    },
    {
        "name": "EUPL-1.2",
        "longname": "European Union Public License 1.2",
        "url": "https://spdx.org/licenses/EUPL-1.2.html",
    },
    {
        "name": "Fair",
        "longname": "Fair License",
        "url": "http://www.opensource.org/licenses/fair.php",
    },
    {
        "name": "Facebook-Platform",
        "longname": "Facebook Platform License",
        "url": "https://github.com/facebook/facebook-android-sdk/blob/master/LICENSE.txt",
    },
    {
        "name": "Frameworx-1.0",
        "longname": "Frameworx License 1.0",
        "url": "http://www.opensource.org/licenses/frameworx.php",
    },
    {
        "name": "Go",
        "longname": "The Go Programming Language",
        "url": "http://golang.org/LICENSE",
    },
    {
        "name": "GPL-2.0",
        "longname": "The GNU General Public License Version 2",
        "url": "http://www.opensource.org/licenses/gpl-2.0.php",
    },
    {
        "name": "GPL-2.0+CE",
        "longname": "The GNU General Public License Version 2 with Classpath Exception",
        "url": "http://openjdk.java.net/legal/gplv2+ce.html",
    },
    {
        "name": "GPL-3.0",
        "longname": "GNU General Public License version 3",
        "url": "http://www.opensource.org/licenses/gpl-3.0.html",
    },
    {
        "name": "Historical",
        "longname": "Historical Permission Notice and Disclaimer",
        "url": "http://www.opensource.org/licenses/historical.php",
    },
    {
        "name": "HSQldb",
        "longname": "HSQLDB License",
        "url": "http://hsqldb.org/web/hsqlLicense.html",
    },
    {
        "name": "IBMPL-1.0",
        "longname": "IBM Public License Version 1.0",
        "url": "http://www.opensource.org/licenses/ibmpl.php",
    },
    {
        "name": "IJG",
        "longname": "Independent JPEG Group License",
        "url": "https://spdx.org/licenses/IJG.html",
    },
    {
        "name": "ImageMagick",
        "longname": "ImageMagick License",
        "url": "https://spdx.org/licenses/ImageMagick.html",
    },
    {
        "name": "IPAFont-1.0",
        "longname": "IPA Font License",
        "url": "http://www.opensource.org/licenses/ipafont.html",
    },
    {
        "name": "ISC",
        "longname": "ISC License (ISCL)",
        "url": "http://www.opensource.org/licenses/isc-license.txt",
    },
    {
        "name": "IU-Extreme-1.1.1",
        "longname": "Indiana University Extreme! Lab Software License",
        "url": "http://www.extreme.indiana.edu/viewcvs/~checkout~/XPP3/java/LICENSE.txt",
    },
    {
        "name": "JA-SIG",
        "longname": "JA-SIG",
        "url": "http://www.jasig.org/cas/license",
    },
    {
        "name": "JSON",
        "longname": "The JSON License",
        "url": "http://www.json.org/license.html",
    },
    {
        "name": "JTIty",
        "longname": "Java HTML Tidy License",
        "url": "http://jtidy.sourceforge.net/license.html",
    },
    {
        "name": "LGPL-2.0",
        "longname": "GNU Library General Public License v2 only",
        "url": "https://spdx.org/licenses/LGPL-2.0-only.html",
    },
    {
        "name": "LGPL-2.1",
        "longname": "GNU Lesser General Public License, Version 2.1",
        "url": "http://www.opensource.org/licenses/lgpl-2.1.php",
    },
    {
        "name": "LGPL-3.0",
        "longname": "GNU Lesser General Public License, Version 3",
        "url": "http://www.opensource.org/licenses/lgpl-3.0.html",
    },
    {
        "name": "Libpng",
        "longname": "libpng License",
        "url": "https://spdx.org/licenses/Libpng.html",
    },
    {
        "name": "LPPL-1.0",
        "longname": "LaTeX Project Public License v1.0",
        "url": "https://spdx.org/licenses/LPPL-1.0.html",
    },
    {
        "name": "Lucent-1.02",
        "longname": "Lucent Public License Version 1.02",
        "url": "http://www.opensource.org/licenses/lucent1.02.php",
    },
    {
        "name": "MirOS",
        "longname": "MirOS License",
        "url": "http://www.opensource.org/licenses/miros.html",
    },
    {
        "name": "MIT",
        "longname": "The MIT License",
        "url": "http://opensource.org/licenses/MIT",
    },
    {
        "name": "Motosoto-0.9.1",
        "longname": "The MOTOSOTO OPEN SOURCE LICENSE - Version 0.9.1",
        "url": "http://www.opensource.org/licenses/motosoto.php",
    },
    {
        "name": "Mozilla-1.1",
        "longname": "Mozilla Public License 1.1 (MPL 1.1)",
        "url": "http://www.opensource.org/licenses/mozilla1.1.php",
    },
    {
        "name": "MPL-2.0",
        "longname": "Mozilla Public License Version 2.0",
        "url": "http://www.mozilla.org/MPL/2.0/",
    },
    {
        "name": "MS-PL",
        "longname": "Microsoft Public License",
        "url": "http://www.opensource.org/licenses/ms-pl.html",
    },
    {
        "name": "MS-RL",
        "longname": "Microsoft Reciprocal License",
        "url": "http://www.opensource.org/licenses/ms-rl.html",
    },
    {
        "name": "Multics",
        "longname": "Multics License",
        "url": "http://www.opensource.org/licenses/multics.txt",
    },
    {
        "name": "NASA-1.3",
        "longname": "NASA Open Source Agreement v1.3",
        "url": "http://www.opensource.org/licenses/nasa1.3.php",
    },
    {
        "name": "NAUMEN",
        "longname": "NAUMEN Public License",
        "url": "http://www.opensource.org/licenses/naumen.php",
    },
    {
        "name": "NCSA",
        "longname": "University of Illinois/NCSA Open Source License",
        "url": "https://spdx.org/licenses/NCSA.html",
    },
    {
        "name": "Nethack",
        "longname": "The Nethack General Public License",
        "url": "http://www.opensource.org/licenses/nethack.php",
    },
    {
        "name": "Nokia-1.0a",
        "longname": "Nokia Open Source License (NOKOS License) Version 1.0a",
        "url": "http://www.opensource.org/licenses/nokia.php",
    },
    {
        "name": "NOSL-3.0",
        "longname": "The Non-Profit Open Software License version 3.0",
        "url": "http://www.opensource.org/licenses/NOSL3.0.html",
    },
    {
        "name": "NTP",
        "longname": "NTP License",
        "url": "http://www.opensource.org/licenses/ntp-license.php",
    },
    {
        "name": "NUnit-2.6.3",
        "longname": "NUnit 2.6.3",
        "url": "http://nunit.org/index.php?p=license&r=2.6.3",
    },
    {
        "name": "NUnit-Test-Adapter-2.6.3",
        "longname": "NUnit Test Adapter for Visual Studio 2.6.3",
        "url": "http://nunit.org/index.php?p=vsTestAdapterLicense&r=2.6.3",
    },
    {
        "name": "OCLC-2.0",
        "longname": "The OCLC Research Public License 2.0 License",
        "url": "http://www.opensource.org/licenses/oclc2.php",
    },
    {
        "name": "Openfont-1.1",
        "longname": "SIL OPEN FONT LICENSE",
        "url": "http://www.opensource.org/licenses/openfont.html",
    },
    {
        "name": "Opengroup",
        "longname": "The Open Group Test Suite License",
        "url": "http://www.opensource.org/licenses/opengroup.php",
    },
    {
        "name": "OpenSSL",
        "longname": "OpenSSL License",
        "url": "https://www.openssl.org/source/license.html",
    },
    {
        "name": "OSL-3.0",
        "longname": "The Open Software License 3.0",
        "url": "http://www.opensource.org/licenses/osl-3.0.php",
    },
    {
        "name": "PHP-3.0",
        "longname": "The PHP License 3.0",
        "url": "http://www.opensource.org/licenses/php.php",
    },
    {
        "name": "PostgreSQL",
        "longname": "The PostgreSQL Licence",
        "url": "http://www.opensource.org/licenses/postgresql",
    },
    {
        "name": "Public Domain",
        "longname": "Public Domain",
        "url": "http://creativecommons.org/licenses/publicdomain/",
    },
    {
        "name": "Public Domain - SUN",
        "longname": "TECHNOLOGY LICENSE FROM SUN MICROSYSTEMS, INC.",
        "url": "http://gee.cs.oswego.edu/dl/classes/EDU/oswego/cs/dl/util/sun-u.c.license.pdf",
    },
    {
        "name": "PythonPL",
        "longname": "The Python License (CNRI Python License)",
        "url": "http://www.opensource.org/licenses/pythonpl.php",
    },
    {
        "name": "PythonSoftFoundation",
        "longname": "Python Software Foundation License",
        "url": "http://www.opensource.org/licenses/PythonSoftFoundation.php",
    },
    {
        "name": "QTPL-1.0",
        "longname": "The Q Public License Version 1.0",
        "url": "http://www.opensource.org/licenses/qtpl.php",
    },
    {
        "name": "Real-1.0",
        "longname": "RealNetworks Public Source License Version 1.0",
        "url": "http://www.opensource.org/licenses/real.php",
    },
    {
        "name": "RicohPL",
        "longname": "The Ricoh Source Code Public License",
        "url": "http://www.opensource.org/licenses/ricohpl.php",
    },
    {
        "name": "RPL-1.5",
        "longname": "Reciprocal Public License 1.5",
        "url": "http://www.opensource.org/licenses/rpl1.5.txt",
    },
    {
        "name": "Scala",
        "longname": "Scala License",
        "url": "http://www.scala-lang.org/license.html",
    },
    {
        "name": "SimPL-2.0",
        "longname": "Simple Public License (SimPL) 2.0",
        "url": "http://www.opensource.org/licenses/simpl-2.0.html",
    },
    {
        "name": "Sleepycat",
        "longname": "The Sleepycat License",
        "url": "http://www.opensource.org/licenses/sleepycat.php",
    },
    {
        "name": "SUNPublic-1.0",
        "longname": "The SUN PUBLIC LICENSE Version 1.0",
        "url": "http://www.opensource.org/licenses/sunpublic.php",
    },
    {
        "name": "Sybase-1.0",
        "longname": "Sybase Open Watcom Public License version 1.0",
        "url": "http://www.opensource.org/licenses/sybase.php",
    },
    {
        "name": "TMatte",
        "longname": "The TMate Open Source License",
        "url": "http://svnkit.com/license.html",
    },
    {
        "name": "Unicode-DFS-2015",
        "longname": "Unicode License Agreement - Data Files and Software (2015)",
        "url": "https://spdx.org/licenses/Unicode-DFS-2015",
    },
    {
        "name": "Unlicense",
        "longname": "Unlicense",
        "url": "http://unlicense.org/",
    },
    {
        "name": "Uol-NCSA",
        "longname": "The University of Illinois/NCSA Open Source License",
        "url": "http://www.opensource.org/licenses/UoI-NCSA.php",
    },
    {
        "name": "UPL-1.0",
        "longname": "Universal Permissive License v1.0",
        "url": "https://spdx.org/licenses/UPL-1.0.html",
    },
    {
        "name": "VIM License",
        "longname": "VIM License",
        "url": "http://vimdoc.sourceforge.net/htmldoc/uganda.html#license",
    },
    {
        "name": "VovidaPL-1.0",
        "longname": "The Vovida Software License v. 1.0",
        "url": "http://www.opensource.org/licenses/vovidapl.php",
    },
    {
        "name": "W3C",
        "longname": "The W3C SOFTWARE NOTICE AND LICENSE",
        "url": "http://www.opensource.org/licenses/W3C.php",
    },
    {
        "name": "WTFPL",
        "longname": "Do What the Fuck You Want to Public License",
        "url": "http://www.wtfpl.net",
    },
    {
        "name": "wxWindows",
        "longname": "The wxWindows Library Licence",
        "url": "http://www.opensource.org/licenses/wxwindows.php",
    },
    {
        "name": "Xnet",
        "longname": "The X.Net, Inc. License",
        "url": "http://www.opensource.org/licenses/xnet.php",
    },
    {
        "name": "ZLIB",
        "longname": "The zlib/libpng License",
        "url": "http://www.opensource.org/licenses/zlib-license.php",
    },
    {
        "name": "ZPL-2.0",
        "longname": "The Zope Public License Ver.2.0",
        "url": "http://www.opensource.org/licenses/zpl.php",
    },
)

#: The valid values of a package's ``licenses`` (case-sensitive).
OSS_LICENSE_NAMES: frozenset[str] = frozenset(lic["name"] for lic in OSS_LICENSES)


def is_oss_license(name: str) -> bool:
    """Whether ``name`` is exactly the name of one of Bintray's OSS licenses."""
    return name in OSS_LICENSE_NAMES


def unknown_licenses(names: list[str]) -> list[str]:
    """The entries of ``names`` that are not OSS license names, in input order."""
    return [name for name in names if name not in OSS_LICENSE_NAMES]
