"""Spanish lexicon (folded: lower case, no accents — "perdón" is written "perdon").

Spanish drops the subject pronoun, so the agent is read from the verb ending
("fallamos", "hemos fallado", "asumimos") rather than from "nosotros".
"""

from __future__ import annotations

from types import MappingProxyType

from amends.messages.audit.lexicons import Lexicon

_OBJ = r"(?:(?:le|les|os|te) )?"
_MAY = r"(?:puede|pueden|pudo|pudieron|pudiera|pudieran|pudiese|pudiesen|podria|podrian|haya|hayan)"

LEXICON = Lexicon(
    lang="es",
    regret=(
        _OBJ + r"(?:pedimos|pido|presentamos|ofrecemos) (?:\w+ ){0,2}(?:disculpas?|perdon)",
        r"\bnos disculpamos\b|\bme disculpo\b",
        r"\blo (?:sentimos|siento)\b",
        r"\b(?:lamentamos|lamento) (?:profundamente |sinceramente |mucho )?(?:lo ocurrido|lo sucedido|haber|las molestias|que (?:su|sus|tu|tus)|no haber)",
        r"\b(?:nuestras|mis) (?:\w+ ){0,2}disculpas\b",
        r"\b(?:le|les|os|te) debo (?:\w+ ){0,2}disculpa",
        r"\b(?:cuanto|cuánto) lo (?:siento|sentimos)\b",
        r"^perdon\b|^disculpen?\b",
    ),
    responsibility=(
        r"\b(?:le|les|os|te) (?:hemos )?fallado\b|\bhemos fallado\b",
        r"\b(?:le|les|os|te) fallamos\b|\bfallamos\b",
        r"\b(?:fue|es|ha sido) (?:\w+ )?(?:nuestro error|nuestra culpa|culpa nuestra|un error nuestro|nuestra responsabilidad|responsabilidad nuestra)",
        r"\basumimos (?:\w+ ){0,2}responsabilidad(?:es)?\b",
        r"\b(?:cometimos|hemos cometido) (?:\w+ )?errore?s?\b|\bnos equivocamos\b|\bnos hemos equivocado\b",
        r"\bno estuvimos a la altura\b|\bno hemos estado a la altura\b",
        r"\b(?:nuestro error|nuestra culpa|nuestro fallo|nuestra falla)\b",
        r"\b(?:le|les|os|te) (?:decepcionamos|hemos decepcionado)\b",
        r"\b(?:causamos|provocamos|rompimos|hemos causado|hemos provocado)\b",
        r"\bno (?:supimos|pudimos) (?:evitar|detectar|prevenir|proteger)",
    ),
    serious=(
        r"\b(?:le|les|os|te) (?:hemos )?fallado\b|\bhemos fallado\b|\bfallamos\b",
        r"\bmuy en serio\b|\bcon (?:toda|la maxima|mucha) seriedad\b",
        r"\bno (?:puedo|podemos) expresar\b",
        r"\blo reconocemos\b",
        r"\blo (?:sentimos|siento) (?:mucho|profundamente|de verdad|sinceramente)\b",
        r"\binaceptable\b",
    ),
    cause=(
        r"\bse debio a\b|\bse debe a\b|\bdebido a\b|\bdebida a\b",
        r"\ba causa de\b|\bpor culpa de\b",
        r"\b(?:causad|provocad|originad|desencadenad)[oa]s? por\b",
        r"\bporque\b",
        r"\bla causa\b|\bel origen\b",
        r"\blo que (?:paso|ocurrio|sucedio)\b",
        r"\bque (?:ha )?(?:pasado|paso|ocurrido|ocurrio|sucedido|sucedio)\b",
    ),
    corrective=(
        r"\bhemos (?:\w+ )?(?:puesto en practica|implementado|instalado|anadido|sustituido|corregido|reforzado|cambiado|reemplazado|desplegado|introducido|revisado)",
        r"\b(?:implementaremos|instalaremos|anadiremos|sustituiremos|corregiremos|reforzaremos|cambiaremos|reemplazaremos|revisaremos)\b",
        r"\bvamos a (?:implementar|instalar|anadir|sustituir|corregir|reforzar|cambiar|reemplazar|revisar)\b",
        r"\bpara (?:evitar|prevenir|impedir) que (?:\w+ ){0,3}(?:vuelva|repita|ocurra|suceda)",
        r"\bmedidas (?:correctivas|inmediatas|para (?:evitar|prevenir|solucionar))\b",
        r"\bno vuelva a (?:ocurrir|suceder|pasar)\b",
    ),
    learning=(
        r"\bhemos aprendido\b|\baprendimos\b",
        r"\bleccion(?:es)?\b",
        r"\b(?:impulsar|mejorar) (?:una mejora|nuestros servicios)\b|\bimpulsar una mejora\b",
        r"\ba lo largo de nuestra historia\b|\btrayectoria\b|\bhistorial\b",
        r"\bque esperamos de nosotros\b",
        r"\banalisis posterior\b|\bpost-?mortem\b",
    ),
    closing=(
        r"\bgracias por (?:la oportunidad|su confianza|tu confianza|su paciencia|tu paciencia|su comprension)",
        r"\bes un honor\b",
        r"\b(?:volver a ganar|recuperar|ganarnos de nuevo|reconquistar) (?:\w+ ){0,3}confianza\b",
        r"\bpublicaremos\b",
        r"\binforme completo\b",
        r"\b(?:escribanos|responda|llamenos|contactenos|escribenos|llamanos)\b",
    ),
    repair=(
        r"(?<!tarjetas de )(?<!tarjeta de )(?<!congelacion del )(?<!agencias de )\bcredito\b",
        r"\breembols",
        r"\babono\b|\babonaremos\b",
        r"\bcompensac|\bcompensar",
        r"\bbonificacion\b",
        r"\bdevolucion\b|\ble devolvemos\b",
        r"\b(?:mes|meses) gratis\b",
    ),
    repair_value=(
        r"\d",
        r"\b(?:un|una|dos|tres) (?:mes|meses|semana|semanas|dia|dias|ano|anos)\b",
        r"\breembolso (?:completo|integro)\b",
    ),
    repair_how=(
        r"\bautomatica(?:mente)?\b|\bautomatico\b",
        r"\bhaga clic\b|\bhaz clic\b|\bpulse\b|\bpulsa\b",
        r"\bboton\b",
        r"\bcanje(?:ar|e)\b|\bredimir\b",
        r"\bse (?:aplicara|aplica|abonara) (?:a|en) su\b",
        r"\bproxima factura\b",
        r"\bno (?:tiene|tienes) que hacer nada\b",
    ),
    conditional=(
        r"\b(?:lo sentimos|lo siento|lamentamos|lamento|disculpas?|perdon|nos disculpamos)(?: \w+){0,4} si\b",
        r"\bsi (?:en algun momento|usted|alguno de ustedes|algun cliente|se) (?:\w+ ){0,3}(?:vio|ha visto|se vio|sintio|ha sentido|fue|ha sido)? ?(?:afectad|molest|incomod|perjudicad)",
        r"\bsi en algun momento\b",
        r"\b(?:cualquier|todo|toda|posible|posibles) (?:\w+ )?(?:inconveniente|molestia|trastorno)s?\b",
        r"\b(?:inconveniente|molestia|trastorno|problema)s? que (?:esto|ello|esta situacion)? ?"
        + _MAY
        + r" (?:haber )?(?:causado|ocasionado|provocado|generado)",
        r"\blamentamos que (?:usted |tu )?(?:se sienta|te sientas|piense|pienses|se haya sentido|opine)",
        r"\ben la medida en que\b",
    ),
    hedge=(
        _MAY + r" (?:haber )?(?:afectado|impactado|causado|ocasionado|perjudicado|interrumpido)",
        r"\b(?:algunos|ciertos) (?:usuarios|clientes) (?:pudieron|podrian|pueden|pudieran)\b",
        r"\bposiblemente\b|\bpotencialmente\b|\bquizas?\b|\btal vez\b",
    ),
    passive=(
        r"\bse (?:cometieron|han cometido|cometio|ha cometido|produjeron) (?:\w+ )?errore?s?\b",
        r"\bse (?:produjo|ha producido|registro|ha registrado|presento|detecto|experimento) (?:un|una) (?:\w+ )?(?:incidencia|problema|error|fallo|falla|interrupcion|incidente)\b",
        r"\bhubo (?:un|una|unos|unas|algunos|algunas) (?:\w+ )?(?:problemas?|incidencias?|errore?s?|fallos?|fallas?|interrupcion(?:es)?)\b",
        r"\b(?:el|los) servicios? (?:fue|fueron|se vio|se vieron|ha sido|han sido) (?:brevemente |temporalmente )?(?:interrumpid|afectad|degradad)[oa]s?\b(?! por nosotros)",
        r"\b(?:ocurrio|ha ocurrido|surgio) (?:un|una) (?:\w+ )?(?:error|problema|incidencia|fallo|incidente)\b",
        r"\blas cosas salieron mal\b",
    ),
    but=(r"\bpero\b", r"\bsin embargo\b", r"\bno obstante\b", r"\baunque\b"),
    blame=(
        r"\b(?:proveedor|proveedores|socio|operador)(?:es)? (?:externos?|upstream|de terceros|ajenos?)\b",
        r"\bnuestros? (?:proveedor|proveedores|socio|operador|operadores)\b",
        r"\bterceros\b|\bun tercero\b",
        r"\b(?:hackers?|atacantes?|piratas informaticos|ciberdelincuentes|delincuentes)\b",
        r"\bddos\b|\bdenegacion de servicio\b|\bciberataque\b",
        r"\b(?:su|tu|la) (?:propia )?configuracion\b",
        r"\b(?:ajen[oa]s? a nosotros|fuera de nuestro control|ajen[oa]s? a nuestra voluntad)\b",
        r"\bno (?:fue|es) (?:nuestra culpa|culpa nuestra)\b",
    ),
    minimising=(
        r"\bleve(?:s|mente)?\b",
        r"(?<!en )\bbreve(?:s|mente)?\b",
        r"\bsolo (?:un|una|unos|unas) (?:pocos|pocas|pequen[oa]|reducid[oa]|minim[oa])",
        r"\b(?:un|una) (?:pequen[oa]|reducid[oa]) (?:numero|parte|porcentaje|cantidad)\b",
        r"\bunos pocos\b|\bunas pocas\b",
        r"\bligera(?:mente)?\b|\bligero\b",
        r"\btecnicamente dentro\b|\bdentro del? (?:nuestro )?sla\b",
        r"\bimpacto minimo\b|\bminimo impacto\b",
    ),
    upsell=(
        r"\d+ ?% de descuento\b|\bdescuento\b",
        r"\bcodigo promocional\b|\bcupon\b|\bpromocion\b",
        r"\boferta (?:especial|exclusiva|limitada)\b|\bpor tiempo limitado\b",
        r"\bcompre ahora\b|\bcompra ahora\b",
        r"\bmejore (?:a|su plan)\b|\bactualice (?:a|su plan)\b|\bpasese a\b",
        r"\bnuevos? productos?\b",
    ),
    reassurance=(
        r"\bningun(?:a|o)? (?:\w+ ){0,3}(?:dato|datos|informacion|contrasena|tarjeta)[^.]{0,120}(?:comprometid|expuest|accedid|filtrad|robad|afectad)",
        r"\ben ningun momento[^.]{0,200}(?:comprometid|expuest|accedid|filtrad|robad)",
        r"\b(?:datos|informacion|contrasenas) (?:\w+ ){0,2}(?:estan|estuvieron|permanecen|permanecieron|siguen|esta|estuvo) (?:\w+ )?(?:a salvo|segur[oa]s?|protegid[oa]s?|intact[oa]s?)",
        r"\bno (?:se vieron|se vio|fueron|fue|han sido|ha sido) (?:\w+ )?(?:comprometid|expuest|accedid|filtrad)",
        r"\bnada (?:fue|ha sido) (?:comprometido|expuesto|robado)",
    ),
    investigating=(
        r"\b(?:investigando|comprobando|averiguando|analizando|evaluando) si\b",
        r"\b(?:aun|todavia) no sabemos si\b",
    ),
    breach_steps=(
        r"\b(?:cambie|cambia|restablezca|restablece|modifique) (?:\w+ )?(?:su|tu|la) contrasena",
        r"\bverificacion en dos pasos\b|\bdoble factor\b|\b(?:autenticacion|verificacion) (?:de|en) dos\b|\b2fa\b",
        r"\b(?:revise|revisa|vigile|vigila|compruebe) (?:\w+ ){0,2}(?:extractos|movimientos|cargos)\b",
        r"\b(?:rote|rota|renueve|renueva|revoque|revoca|regenere) (?:\w+ ){0,2}(?:claves|tokens|credenciales)\b",
        r"\bphishing\b|\bsuplantacion\b",
        r"\bcongelacion del credito\b|\balerta de fraude\b",
        r"\bcompruebe el remitente\b|\breglas de reenvio\b|\btarjeta nueva\b",
        r"\bno responda a (?:\w+ )?(?:llamadas|mensajes|correos)\b",
    ),
    track_record=(
        r"\ba lo largo de nuestra historia\b",
        r"\bhistorial\b|\btrayectoria\b",
        r"\d{2,3}(?:[.,]\d+)? ?% de (?:disponibilidad|tiempo de actividad)\b",
        r"\bdisponib(?:ilidad|le) (?:del|de un|de|el|un) \d",
    ),
    impact=(
        r"\b(?:su|sus|tu|tus) (?:\w+ ){0,2}(?:sitios?|web|webs|correos?|buzon|servicios?|tiendas?|dominios?|dns|api|cuentas?)\b",
    ),
    senior=(
        r"\b(?:ceo|cto|coo|cio|ciso|cfo)\b",
        r"\bconsejer[oa] delegad[oa]\b",
        r"\bdirector(?:a)? (?:general|ejecutiv[oa]|tecnic[oa]|de (?:operaciones|tecnologia|seguridad|sistemas))\b",
        r"\b(?:co)?fundador(?:a)?\b",
        r"\bpresident[ea]\b",
        r"\b(?:gerente general|vicepresident[ea])\b",
        r"\bjef[ea] de (?:ingenieria|operaciones|infraestructura|tecnologia)\b",
    ),
    examples=MappingProxyType(
        {
            "A1": "Le hemos fallado: fue nuestro error.",
            "A2": "Su cuenta recibirá un crédito de 1 mes de servicio por cada sitio afectado, "
            "que se aplicará automáticamente en un plazo de 7 días.",
            "A3": "Le pedimos disculpas.",
            "A4": "La interrupción se debió a … (la causa, en palabras sencillas).",
            "A5": "Hemos sustituido … para que esto no vuelva a ocurrir.",
            "N1": "Cometimos errores: …",
            "N2": "Sentimos que su sitio web y su correo estuvieran caídos seis horas.",
            "N3": "Lo sentimos. (Después los hechos, en otra frase y sin «pero».)",
            "N7": "Seguimos investigando si algún dato se vio afectado; se lo diremos en "
            "cuanto lo sepamos.",
            "S5": "Cambie ahora su contraseña, y en todos los sitios donde use la misma.",
            "S1": "Ana Ruiz, consejera delegada",
            "A6": "Gracias por la oportunidad de recuperar su confianza.",
        }
    ),
)
