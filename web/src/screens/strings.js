// The words of the break-glass, denial, alarms, lost-device and privacy screens, English and French.

export const SCREEN_STRINGS = {
  en: {
    // break-glass
    breakGlassWarningTitle: "Emergency access",
    breakGlassWarning:
      "Use it only when the normal request cannot wait. The moment you send it, an alarm goes to the security officers with your name, the group and the time, and it stays on the chain for audit.",
    breakGlassRules: "The policy for {group}: {approvals} approval(s), at most {max}.",
    breakGlassNone: "The policy for {group} allows no emergency access.",
    alarmRaised: "Alarm raised: the security officers have been alerted (request {id}).",
    breakGlassTag: "Break-glass · alarm raised",
    // denial
    denyTitle: "Deny request {id}",
    denyReason: "Reason for the denial",
    denyReasonHint:
      "Kept on this phone; only a salted hash goes on chain. Say it to the requester too: the chain only tells them who denied.",
    denyReasonMissing: "Give a reason for the denial.",
    denyConfirm: "Deny the request",
    denyCancel: "Keep it",
    deniedBy: "Denied by {who}.",
    deniedReasonOffChain: "A reason was given; it is kept off chain: ask them.",
    deniedReasonMine: "Your reason: {reason}",
    // alarms
    navAlarms: "Alarms",
    alarmsTitle: "Alarms",
    alarmsIntro:
      "Every alarm the chain raised: break-glass requests, members no grant explains, late removals, unlock limits, leavers, lapsed reviews.",
    noAlarms: "No alarm.",
    alarmKind1: "Break-glass request",
    alarmKind2: "Member no grant explains (drift)",
    alarmKind3: "Unlock limit reached",
    alarmKind4: "Removal from the group is late",
    alarmKind5: "Leaver: account gone from the directory",
    alarmKind6: "Access review not confirmed in time",
    alarmWho: "Who",
    alarmWhat: "What",
    alarmWhere: "Domain controller",
    alarmWhen: "When",
    alarmRequest: "Request {id}",
    alarmReview: "Review {id}, item {item}",
    alarmMember: "member {hash}",
    leaverReason1: "account disabled",
    leaverReason2: "account deleted",
    leaverReason3: "moved to the leavers OU",
    announceAlarm: "New alarm: {kind}.",
    // lost device
    lostTitle: "If I lose this phone",
    lostIntro:
      "Only the council can suspend an account: you cannot do it yourself from another device. Prepare a lost-device code now and keep it apart from this phone (print it, or save it on your computer). If the phone is lost or stolen, give the code to a council member: it suspends your account at once, which ends every access, and the council enrols your new phone.",
    lostShow: "Show my lost-device code",
    lostCode: "Lost-device code",
    lostCodeHint: "A council member runs: pamchain principal lost-device CODE",
    lostQr: "QR code of the lost-device code",
    lostShown: "Code ready: keep it away from this phone.",
    // privacy
    privacyLink: "Terms and privacy",
    privacyTitle: "Terms and privacy",
    privacyBack: "Back to the app",
    privacyUse:
      "This app is for the organisation's staff to ask for and approve administrative access. Use it only for your own account and for requests you are entitled to decide; everything you do here is recorded for audit.",
    privacyChainTitle: "What the chain keeps (forever)",
    privacyChain:
      "No name, account name, e-mail or text in clear: a pseudonymous id for you (a keyed hash), your device's address, what you asked for and when, who approved, and the receipts of the domain controller. Justifications and denial reasons appear only as salted hashes; your new password never goes on chain.",
    privacyOffTitle: "What is kept elsewhere",
    privacyOff:
      "Your device key stays in this browser, encrypted with your passphrase. Sealed justifications and passwords wait in the payload store until used (at most 7 days). The names shown here come from the server's labels file. Logs hold ids and counts, never a secret, kept 30 days.",
    privacyEraseTitle: "Erasure",
    privacyErase:
      "The chain cannot forget, so erasure removes every link from your id to you: your labels, your directory binding, the oracle's evidence and notification addresses. Ask the council or your data protection officer.",
    privacyMore: "The full text: docs/privacy.md in pamchain's documentation.",
  },
  fr: {
    breakGlassWarningTitle: "Accès d'urgence",
    breakGlassWarning:
      "À n'utiliser que si la demande normale ne peut pas attendre. Dès l'envoi, une alarme part vers les responsables sécurité avec votre nom, le groupe et l'heure, et elle reste sur la chaîne pour l'audit.",
    breakGlassRules: "La politique pour {group} : {approvals} approbation(s), au plus {max}.",
    breakGlassNone: "La politique pour {group} ne permet pas d'accès d'urgence.",
    alarmRaised: "Alarme déclenchée : les responsables sécurité sont prévenus (demande {id}).",
    breakGlassTag: "Bris de glace · alarme déclenchée",
    denyTitle: "Refuser la demande {id}",
    denyReason: "Motif du refus",
    denyReasonHint:
      "Gardé sur ce téléphone ; seule une empreinte salée est inscrite sur la chaîne. Dites-le aussi au demandeur : la chaîne lui indique seulement qui a refusé.",
    denyReasonMissing: "Indiquez le motif du refus.",
    denyConfirm: "Refuser la demande",
    denyCancel: "Ne pas refuser",
    deniedBy: "Refusée par {who}.",
    deniedReasonOffChain: "Un motif a été donné ; il est gardé hors chaîne : demandez-le.",
    deniedReasonMine: "Votre motif : {reason}",
    navAlarms: "Alarmes",
    alarmsTitle: "Alarmes",
    alarmsIntro:
      "Toutes les alarmes levées par la chaîne : bris de glace, membres qu'aucun droit n'explique, retraits en retard, limites de déverrouillage, départs, revues non confirmées.",
    noAlarms: "Aucune alarme.",
    alarmKind1: "Demande bris de glace",
    alarmKind2: "Membre qu'aucun droit n'explique (dérive)",
    alarmKind3: "Limite de déverrouillages atteinte",
    alarmKind4: "Retrait du groupe en retard",
    alarmKind5: "Départ : compte sorti de l'annuaire",
    alarmKind6: "Revue d'accès non confirmée à temps",
    alarmWho: "Qui",
    alarmWhat: "Quoi",
    alarmWhere: "Contrôleur de domaine",
    alarmWhen: "Quand",
    alarmRequest: "Demande {id}",
    alarmReview: "Revue {id}, élément {item}",
    alarmMember: "membre {hash}",
    leaverReason1: "compte désactivé",
    leaverReason2: "compte supprimé",
    leaverReason3: "déplacé dans l'UO des départs",
    announceAlarm: "Nouvelle alarme : {kind}.",
    lostTitle: "Si je perds ce téléphone",
    lostIntro:
      "Seul le conseil peut suspendre un compte : vous ne pouvez pas le faire vous-même depuis un autre appareil. Préparez dès maintenant un code de perte et gardez-le loin de ce téléphone (imprimé, ou sur votre ordinateur). Si le téléphone est perdu ou volé, remettez le code à un membre du conseil : il suspend aussitôt votre compte, ce qui met fin à tous vos accès, puis le conseil enrôle votre nouveau téléphone.",
    lostShow: "Afficher mon code de perte",
    lostCode: "Code de perte de l'appareil",
    lostCodeHint: "Un membre du conseil lance : pamchain principal lost-device CODE",
    lostQr: "QR code du code de perte",
    lostShown: "Code prêt : gardez-le loin de ce téléphone.",
    privacyLink: "Conditions et confidentialité",
    privacyTitle: "Conditions et confidentialité",
    privacyBack: "Retour à l'application",
    privacyUse:
      "Cette application sert au personnel de l'organisation à demander et approuver des accès d'administration. Ne l'utilisez que pour votre propre compte et pour les demandes sur lesquelles vous avez à statuer ; tout ce que vous faites ici est enregistré pour l'audit.",
    privacyChainTitle: "Ce que garde la chaîne (pour toujours)",
    privacyChain:
      "Aucun nom, nom de compte, courriel ni texte en clair : un identifiant pseudonyme (une empreinte à clé), l'adresse de votre appareil, ce que vous avez demandé et quand, qui a approuvé, et les reçus du contrôleur de domaine. Justifications et motifs de refus n'y figurent que sous forme d'empreintes salées ; votre nouveau mot de passe n'y va jamais.",
    privacyOffTitle: "Ce qui est gardé ailleurs",
    privacyOff:
      "La clé de votre appareil reste dans ce navigateur, chiffrée par votre phrase secrète. Justifications et mots de passe scellés attendent dans le dépôt de charges jusqu'à leur usage (7 jours au plus). Les noms affichés ici viennent du fichier d'étiquettes du serveur. Les journaux contiennent des identifiants et des comptes, jamais de secret, gardés 30 jours.",
    privacyEraseTitle: "Effacement",
    privacyErase:
      "La chaîne ne peut pas oublier : l'effacement supprime donc tout lien entre votre identifiant et vous (étiquettes, liaison à l'annuaire, preuves de l'oracle, adresses de notification). Adressez-vous au conseil ou à votre délégué à la protection des données.",
    privacyMore: "Le texte complet : docs/privacy.md dans la documentation de pamchain.",
  },
};
