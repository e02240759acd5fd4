"""English lexicon (folded: lower case, no accents, plain quotes)."""

from __future__ import annotations

from types import MappingProxyType

from amends.messages.audit.lexicons import Lexicon

_WE = r"\b(?:we|i)\b"

LEXICON = Lexicon(
    lang="en",
    regret=(
        r"\b(?:we|i) (?:(?:sincerely|truly|deeply|unreservedly) )?apologi[sz]e",
        r"\b(?:we|i)(?: are| am|'re|'m) (?:(?:so|very|truly|deeply|really|sincerely) )*sorry",
        r"\b(?:we|i) (?:owe|offer|extend) you (?:a|an|our|my) (?:\w+ ){0,3}apology",
        r"\b(?:our|my) (?:(?:sincere|deepest|heartfelt|unreserved) )?apolog(?:y|ies)",
        r"\bhow sorry (?:we|i) (?:are|am)",
        r"^sorry\b",
        r"\bplease accept (?:our|my) apolog",
        r"\bwe regret\b",
    ),
    responsibility=(
        _WE
        + r" (?:\w+ ){0,2}(?:failed|let you down|caused|broke|fell short|messed up|got (?:this|it) wrong)",
        _WE + r" (?:made|own) (?:a |an |the |this |these )?(?:\w+ )?(?:mistakes?|errors?)",
        _WE
        + r" (?:did not|didn't|did n't) (?:\w+ ){0,3}(?:catch|prevent|test|notice|protect|keep|deliver)",
        r"\b(?:our|my) (?:own )?(?:fault|mistake|error|failure|responsibility)\b",
        r"\bthis (?:was|is) (?:entirely |fully |all )?(?:on us|our (?:fault|doing|responsibility))",
        _WE
        + r" (?:take|accept|bear|own) (?:full |complete |total )?(?:responsibility|ownership|the blame)",
        r"\bwe are (?:fully |entirely )?responsible\b",
        _WE + r" own (?:this|it|the failure)",
    ),
    serious=(
        r"\blet you down\b",
        r"\b(?:take|taking) (?:this|it|our responsibilities|[\w ,]{0,60}) (?:very |extremely )?seriously",
        r"\bcannot express\b|\bcan't express\b|\bcan not express\b",
        r"\bwe know it\b",
        r"\b(?:deeply|truly|sincerely|profoundly) sorry\b",
        r"\bunacceptable\b",
    ),
    cause=(
        r"\bdue to\b",
        r"\bcaused by\b",
        r"\bbecause\b",
        r"\b(?:root )?cause (?:was|of)\b",
        r"\btriggered by\b",
        r"\bwhat happened\b",
        r"\bthe reason\b",
        r"\bresulted from\b",
        r"\bstarted when\b",
    ),
    corrective=(
        _WE
        + r" (?:have |'ve )?(?:\w+ )?(?:implemented|added|replaced|fixed|changed|rebuilt|installed|deployed|introduced|put in place|reinforced|rolled out|corrected)",
        _WE
        + r" (?:will|are going to|'ll) (?:\w+ )?(?:implement|add|replace|fix|change|rebuild|install|deploy|introduce|put in place|reinforce|roll out|review|audit)",
        r"\bto (?:prevent|stop|avoid) (?:this|it|a repeat|that)\b",
        r"\bfrom (?:happening|occurring) again\b",
        r"\bcorrective (?:action|measure)s?\b",
        r"\bmeasures to prevent\b",
    ),
    learning=(
        r"\b(?:we|i) (?:have |'ve )?learn(?:ed|t)\b",
        r"\blessons?\b",
        r"\bdrive improvements?\b",
        r"\btrack record\b",
        r"\bthroughout our history\b",
        r"\bpost-?mortem\b",
        r"\bexpect of ourselves\b",
    ),
    closing=(
        r"\bthank you for (?:the (?:opportunity|chance)|your (?:patience|trust|understanding|business))",
        r"\bhono(?:u)?r to serve\b",
        r"\b(?:win|earn|regain|rebuild) (?:back )?(?:your|the) (?:business|trust|confidence)",
        r"\bwin back\b|\bearn back\b",
        r"\b(?:we will|we'll) publish\b",
        r"\bfull (?:report|account|post-?mortem)\b",
        r"\bplease (?:reply|write|contact|call)\b",
    ),
    repair=(
        r"\bcredit(?:s|ed)?\b(?! cards?\b| freeze| bureaus?| reports?| monitoring)",
        r"\brefund(?:s|ed)?\b",
        r"\breimburse",
        r"\bcompensat",
        r"\bmoney back\b",
        r"\bfree (?:month|months|of charge)\b",
        r"\bwaive",
    ),
    repair_value=(
        r"\d",
        r"\b(?:one|two|three|a|an) (?:full )?(?:month|week|day|year)s?\b",
        r"\bfull (?:refund|month)\b",
    ),
    repair_how=(
        r"\bautomatic(?:ally)?\b",
        r"\bclick\b",
        r"\bbutton\b",
        r"\bredeem",
        r"\bappl(?:y|ied) to your\b",
        r"\bnext (?:invoice|bill)\b",
        r"\bnothing to do\b",
    ),
    conditional=(
        r"\b(?:sorry|apologi[sz]e|apologies|apology|regret) (?:\w+ ){0,3}if\b",
        r"\bif (?:you|anyone) (?:\w+ ){0,3}(?:were|was|have been|felt|feel) (?:\w+ )?(?:affected|inconvenienced|impacted|upset|offended)",
        r"\bany inconvenience\b",
        r"\b(?:inconvenience|disruption|trouble|problems?|impact) (?:this|that|it|which) (?:may|might|could) (?:have )?(?:caused|created)",
        r"\bsorry (?:that )?you (?:feel|felt|think|thought|were disappointed)",
        r"\bto the extent (?:that )?(?:you|anyone|this)",
        r"\b(?:for|about) whatever (?:inconvenience|issues?|problems?)",
    ),
    hedge=(
        r"\b(?:may|might|could) (?:have )?(?:impacted|affected|disrupted|caused|interrupted)\b",
        r"\b(?:some|certain) (?:users|customers) may\b",
        r"\bpossibly\b",
        r"\bpotentially\b",
        r"\bperhaps\b",
    ),
    passive=(
        r"\b(?:mistakes|errors) (?:were|have been|had been) (?:made|committed)",
        r"\b(?:a )?mistakes? (?:was|has been) made\b",
        r"\b(?:errors|issues|problems|failures) (?:occurred|arose|were encountered)\b",
        r"\ban? (?:issue|problem|error|incident|outage) (?:was|has been) (?:experienced|encountered|identified|detected)\b",
        r"\b(?:the )?services? (?:was|were|has been|have been) (?:briefly |temporarily )?(?:disrupted|interrupted|degraded|unavailable)\b(?! by us)",
        r"\bthere (?:was|were|has been) (?:an? )?(?:issue|problem|error|disruption|outage)s?\b",
        r"\bthings went wrong\b",
    ),
    but=(r"\bbut\b", r"\bhowever\b", r"\balthough\b", r"\bthat said\b", r"\bnevertheless\b"),
    blame=(
        r"\b(?:our |an |a |the )?(?:upstream|third[- ]party|external) (?:provider|vendor|supplier|partner|service|network|carrier)s?\b",
        r"\bour (?:provider|vendor|supplier|partner|carrier|data ?cent(?:er|re) operator)s?\b",
        r"\b(?:the )?vendor'?s?\b",
        r"\b(?:hackers?|attackers?|criminals|malicious actors?)\b",
        r"\bddos\b|\bdenial[- ]of[- ]service\b|\bcyber-?attack\b",
        r"\b(?:your|the customer'?s?|customers'?) (?:own )?(?:configuration|settings|setup|dns settings|code)\b",
        r"\b(?:beyond|outside) (?:of )?our control\b",
        r"\bnot our fault\b",
    ),
    minimising=(
        r"\bminor\b",
        r"\bbrief(?:ly)?\b",
        r"\bonly (?:a |an )?(?:small|few|handful|tiny|limited|fraction)",
        r"\ba (?:small|limited|tiny) (?:number|subset|fraction|percentage) of\b",
        r"\bslight(?:ly)?\b",
        r"\btechnically (?:within|in line with)\b",
        r"\bwithin (?:our|the) sla\b",
        r"\bblip\b|\bhiccup\b",
    ),
    upsell=(
        r"\d+ ?% off\b|\bpercent off\b",
        r"\bpromo(?:tion(?:al)?)? code\b|\bcoupon\b|\bvoucher code\b",
        r"\bdiscount\b",
        r"\bupgrade (?:to|your|now|today)\b",
        r"\bnew (?:product|plan|service)s? (?:or|and|at|for)\b|\bany new product\b",
        r"\bspecial offer\b|\blimited[- ]time\b|\bbuy now\b|\bsale\b",
    ),
    reassurance=(
        r"\bno (?:\w+ ){0,3}(?:data|information|passwords?|card (?:data|numbers?)) (?:\w+ ){0,4}(?:was|were|has been|have been) (?:\w+ )?(?:compromised|accessed|exposed|lost|stolen|leaked|affected)",
        r"\bat no (?:time|point) (?:was|were|has|have) [^.]{0,200}(?:compromised|accessed|exposed|lost|stolen|leaked)",
        r"\b(?:data|information|passwords?) (?:is|are|was|were|remains?|remained|stayed) (?:\w+ )?(?:safe|secure|protected|intact)\b",
        r"\b(?:was|were) (?:never|not) (?:\w+ )?(?:compromised|accessed|exposed)\b",
        r"\bnothing (?:was|has been) (?:compromised|accessed|exposed|stolen)",
    ),
    investigating=(
        r"\b(?:investigating|checking|examining|assessing|working out) whether\b",
        r"\bwe do not (?:yet )?know whether\b|\bwe don't (?:yet )?know whether\b",
    ),
    breach_steps=(
        r"\b(?:reset|change) (?:your|the) password",
        r"\btwo-(?:step|factor)\b|\b2fa\b|\bmulti-factor\b|\bmfa\b",
        r"\b(?:watch|check|review|monitor) (?:\w+ ){0,2}(?:card |bank )?statements\b",
        r"\brotate (?:\w+ ){0,2}(?:api )?(?:keys|tokens|credentials)\b",
        r"\bphishing\b",
        r"\bcredit freeze\b|\bfraud alert\b",
        r"\bcheck the sender\b|\bforwarding rules?\b|\bnew card\b",
        r"\bdo not (?:answer|reply to) (?:\w+ )?(?:calls|messages|e-?mails)\b",
    ),
    track_record=(
        r"\bthroughout our history\b",
        r"\btrack record\b",
        r"\d{2,3}(?:[.,]\d+)? ?% (?:\w+ ){0,2}(?:uptime|availability|available)\b",
        r"\b(?:uptime|availability) (?:of|at|was|has been) \d",
        r"\bbeen available \d",
    ),
    impact=(
        r"\byour (?:\w+ ){0,2}(?:sites?|websites?|e-?mail|mailbox(?:es)?|service|shop|store|domains?|dns|api|account)\b",
    ),
    senior=(
        r"\b(?:ceo|cto|coo|cio|ciso|cfo)\b",
        r"\bchief (?:executive|technology|technical|operating|information|security) officer\b",
        r"\b(?:co-?)?founder\b",
        r"\b(?:president|chairman|chairwoman|chairperson|managing director|general manager)\b",
        r"\b(?:executive |senior )?vice president\b|\bsvp\b|\bevp\b",
        r"\bhead of (?:engineering|operations|infrastructure|technology|customer \w+)\b",
    ),
    examples=MappingProxyType(
        {
            "A1": "We let you down: this was our fault.",
            "A2": "Your account receives a credit of one month of service for each affected "
            "site, applied automatically within 7 days.",
            "A3": "We are sorry.",
            "A4": "The outage was caused by … (the cause in plain words).",
            "A5": "We have replaced … so that this cannot happen again.",
            "N1": "We made mistakes: …",
            "N2": "We are sorry that your website and e-mail were down for six hours.",
            "N3": "We are sorry. (Then the facts, in a new sentence without 'but'.)",
            "N7": "We are still investigating whether any data was affected; we will tell "
            "you as soon as we know.",
            "S5": "Reset your password now, and everywhere you used the same one.",
            "S1": "Ana Ruiz, CEO",
            "A6": "Thank you for the chance to win back your trust.",
        }
    ),
)
